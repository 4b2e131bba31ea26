//! Log output: stderr always, and a file in the data directory for the daemon.
//! Tokens never reach a log: they are `Secret`s, which print masked. The
//! file is 0600 and rotates by size (`file-rotate`): a daemon that runs for
//! months keeps at most [`LOG_FILES_KEPT`] old files of [`LOG_FILE_BYTES`].

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use std::path::Path;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

pub fn init(default_level: &str, file: Option<&Path>) -> Result<(), std::io::Error> {
    let filter = || EnvFilter::try_from_env("TOKENTRAY_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    // Colour only for a person at a terminal: the journal and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let stderr = fmt::layer().with_writer(std::io::stderr).with_target(false).with_ansi(ansi).with_filter(filter());
    let file_layer = match file {
        Some(path) => {
            let file = rotating_log(path, LOG_FILE_BYTES)?;
            Some(fmt::layer().with_writer(std::sync::Mutex::new(file)).with_ansi(false).with_filter(filter()))
        }
        None => None,
    };
    tracing_subscriber::registry().with(stderr).with(file_layer).init();
    Ok(())
}

/// A log file grows to this, then becomes `tokentray.log.1`.
pub const LOG_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Rotated files kept besides the current one.
pub const LOG_FILES_KEPT: usize = 3;

/// The log at `path`, private (0600, an older one tightened), rotated once it passes `limit` bytes.
fn rotating_log(path: &Path, limit: usize) -> std::io::Result<FileRotate<AppendCount>> {
    if let Some(dir) = path.parent() {
        tokentray_adapters::atomic::ensure_private_dir(dir)?;
    }
    if path.exists() {
        drop(tokentray_adapters::atomic::open_private(path)?);
    }
    let options = tokentray_adapters::atomic::private_append_options();
    Ok(FileRotate::new(
        path,
        AppendCount::new(LOG_FILES_KEPT),
        ContentLimit::BytesSurpassed(limit),
        Compression::None,
        Some(options),
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_log_is_private_and_rotates_by_size() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tokentray_testkit::scratch("log-rotation");
        let path = dir.join("tokentray.log");
        std::fs::write(&path, "from an older version\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut log = rotating_log(&path, 1000).unwrap();
        for i in 0..100 {
            writeln!(log, "line {i:04} of a daemon that runs for months").unwrap();
        }
        log.flush().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        for n in 1..=LOG_FILES_KEPT {
            let rotated = dir.join(format!("tokentray.log.{n}"));
            assert_eq!(mode(&rotated), 0o600, "{}", rotated.display());
            assert!(std::fs::metadata(&rotated).unwrap().len() < 1100);
        }
        assert!(!dir.join(format!("tokentray.log.{}", LOG_FILES_KEPT + 1)).exists(), "old files go");
    }
}

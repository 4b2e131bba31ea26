//! Log output: stderr always, and a file in the data directory for the daemon.
//! Tokens never reach a log: they are `Secret`s, which print masked.

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
            if let Some(dir) = path.parent() {
                tokentray_adapters::atomic::create_private_dir(dir)?;
            }
            let f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
            Some(fmt::layer().with_writer(std::sync::Mutex::new(f)).with_ansi(false).with_filter(filter()))
        }
        None => None,
    };
    tracing_subscriber::registry().with(stderr).with(file_layer).init();
    Ok(())
}

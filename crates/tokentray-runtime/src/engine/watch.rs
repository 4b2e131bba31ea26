//! Watches the config file (edits apply without a restart; an invalid edit is
//! reported and ignored) and the state file (a token another process stored is
//! picked up). Directories are watched, not files, because editors and
//! TokenTray itself replace files by renaming a new one over them.

use crate::Engine;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokentray_adapters::config::{Config, ConfigError};

/// Editors write a file in several steps: wait for quiet before reading.
const SETTLE: Duration = Duration::from_millis(150);

#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path}: {source}")]
pub struct WatchError {
    path: PathBuf,
    source: notify::Error,
}

/// Keeps the watch alive; dropping it stops watching.
pub struct FileWatch {
    _watcher: RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Called with each config edit that failed to load, so the surfaces can say so.
pub type OnInvalidConfig = Box<dyn Fn(&ConfigError) + Send + Sync>;

pub fn watch(engine: &Engine, config_path: &Path, on_invalid: OnInvalidConfig) -> Result<FileWatch, WatchError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if !is_change(&event.kind) {
            return;
        }
        for path in event.paths {
            let _ = tx.send(path);
        }
    })
    .map_err(|source| WatchError { path: config_path.to_owned(), source })?;

    let config_dir = parent(config_path);
    let data_dir = engine.data_dir().to_owned();
    tokentray_adapters::atomic::create_private_dir(&data_dir)
        .map_err(|e| WatchError { path: data_dir.clone(), source: notify::Error::io(e) })?;
    for dir in [&config_dir, &data_dir] {
        watcher.watch(dir, RecursiveMode::NonRecursive).map_err(|source| WatchError { path: dir.clone(), source })?;
    }

    let config_name = config_path.file_name().map(|n| n.to_owned());
    let state_path = data_dir.join("state.json");
    let config_path = config_path.to_owned();
    let engine = engine.clone();
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut paths = vec![first];
            // Collect the burst.
            while let Ok(Some(p)) = tokio::time::timeout(SETTLE, rx.recv()).await {
                paths.push(p);
            }
            if paths.iter().any(|p| p.file_name() == config_name.as_deref() && parent(p) == config_dir) {
                reload(&engine, &config_path, &on_invalid);
            }
            if paths.contains(&state_path) {
                if let Err(e) = engine.adopt_all_from_disk().await {
                    tracing::warn!("cannot read the state another process wrote: {e}");
                }
            }
        }
    });
    Ok(FileWatch { _watcher: watcher, task })
}

/// Whether an event says a file changed. Reads (ours included) raise
/// access events: were they changes, reading the config after an edit would
/// raise the next edit, and a bad one would be reported in a loop.
fn is_change(kind: &notify::EventKind) -> bool {
    !matches!(kind, notify::EventKind::Access(_))
}

fn reload(engine: &Engine, path: &Path, on_invalid: &OnInvalidConfig) {
    match Config::load(path) {
        Ok(config) if config == engine.config() => {}
        Ok(config) => {
            tracing::info!("config reloaded from {}: {} account(s)", path.display(), config.accounts.len());
            engine.apply_config(config);
        }
        Err(e) => {
            tracing::error!("config edit ignored, still running on the last good config: {e}");
            on_invalid(&e);
        }
    }
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events a real read of the config raises are no changes; a
    /// real write after it is. Events come in order, so once the write's
    /// has come, every event of the read has too.
    #[test]
    fn reading_the_config_is_no_change_and_writing_one_is() {
        let dir = tokentray_testkit::scratch("watch-read");
        let config = dir.join("config.toml");
        std::fs::write(&config, "# a config\n").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let _ = tx.send(event.expect("a watch event"));
        })
        .unwrap();
        watcher.watch(&dir, RecursiveMode::NonRecursive).unwrap();
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "# a config\n");
        let marker = dir.join("marker");
        std::fs::write(&marker, "x").unwrap();
        let mut before_marker = Vec::new();
        loop {
            let event = rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the marker's event");
            if event.paths.contains(&marker) && is_change(&event.kind) {
                break;
            }
            before_marker.push(event);
        }
        let of_config: Vec<_> = before_marker.iter().filter(|e| e.paths.contains(&config)).collect();
        // inotify reports reads (so the test can tell them from changes);
        // Windows' directory watch reports none.
        if cfg!(target_os = "linux") {
            assert!(!of_config.is_empty(), "the read raised events: {before_marker:?}");
        }
        assert!(of_config.iter().all(|e| !is_change(&e.kind)), "a read is no change: {of_config:?}");
    }
}

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
        // Reads (ours included) raise access events: only changes matter, or
        // reading the file after an event would raise the next one.
        let Ok(event) = event else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
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

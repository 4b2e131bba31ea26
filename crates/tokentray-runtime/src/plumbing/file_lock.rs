//! Cross-process locks on files in the data directory, so that two TokenTray
//! processes (the tray and a CLI call, two daemons) never refresh one account
//! at once: a second refresh would spend a rotated refresh token, or make the
//! provider invalidate the first one's token.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open the lock file {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("another TokenTray process has held {path} for over {waited:?}; is one stuck?")]
    Timeout { path: PathBuf, waited: Duration },
}

/// Held until dropped (closing the file releases the lock, also if the process dies).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

const POLL: Duration = Duration::from_millis(20);

/// Waits for the exclusive lock on `path` (created if missing), up to `timeout`.
pub async fn acquire(path: &Path, timeout: Duration) -> Result<FileLock, LockError> {
    if let Some(dir) = path.parent() {
        tokentray_adapters::atomic::create_private_dir(dir)
            .map_err(|source| LockError::Open { path: path.to_owned(), source })?;
    }
    let file = tokentray_adapters::atomic::open_private(path)
        .map_err(|source| LockError::Open { path: path.to_owned(), source })?;
    let started = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(FileLock { _file: file }),
            Err(TryLockError::WouldBlock) if started.elapsed() < timeout => tokio::time::sleep(POLL).await,
            Err(TryLockError::WouldBlock) => return Err(LockError::Timeout { path: path.to_owned(), waited: timeout }),
            Err(TryLockError::Error(source)) => return Err(LockError::Open { path: path.to_owned(), source }),
        }
    }
}

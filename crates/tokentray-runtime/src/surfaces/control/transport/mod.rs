//! The seam where the OS's local socket lives: the rest of the control
//! channel reads and writes lines over whatever this gives. On Unix it is a
//! socket file in the private data directory (0600 in a 0700 directory);
//! on Windows a named pipe that only the user can open, whose owner the
//! client checks before it says anything.
//!
//! On both, the claim is an exclusive lock on [`claim_file`], held until
//! the engine's last work is done: one engine per data directory.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{address, bind, connect, Listener};
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::{address, bind, connect, Listener};

use std::path::{Path, PathBuf};

/// What answers at an address: the engine, or the one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Engine,
    Window,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Self::Engine => "tokentray",
            Self::Window => "window",
        }
    }
}

/// The claim on an endpoint, held until dropped (closing the file lets go
/// of the lock, also when the process dies).
pub(crate) struct Claim {
    _lock: std::fs::File,
}

/// Takes the claim on `endpoint` of `data_dir`; `Taken` while another
/// process holds it.
fn take_claim(data_dir: &Path, endpoint: Endpoint) -> Result<Claim, BindError> {
    let lock = tokentray_adapters::atomic::open_private(&claim_file(data_dir, endpoint)).map_err(BindError::Failed)?;
    match lock.try_lock() {
        Ok(()) => Ok(Claim { _lock: lock }),
        Err(std::fs::TryLockError::WouldBlock) => Err(BindError::Taken),
        Err(std::fs::TryLockError::Error(e)) => Err(BindError::Failed(e)),
    }
}

/// Whether nobody holds the claim on `endpoint` of `data_dir` (taken and
/// let go at once to see).
pub(crate) fn claim_is_free(data_dir: &Path, endpoint: Endpoint) -> bool {
    match std::fs::File::open(claim_file(data_dir, endpoint)) {
        Ok(file) => file.try_lock().is_ok(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// The file whose lock is the claim on an endpoint of `data_dir`.
fn claim_file(data_dir: &Path, endpoint: Endpoint) -> PathBuf {
    data_dir.join(format!("{}.lock", endpoint.name()))
}

use tokio::io::{AsyncRead, AsyncWrite};

/// One connection's two directions.
pub(crate) struct Connection {
    pub read: Box<dyn AsyncRead + Send + Unpin>,
    pub write: Box<dyn AsyncWrite + Send + Unpin>,
}

/// Why a connection could not be made.
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// Nobody answers there: no TokenTray runs.
    Nobody,
    /// Something is there, but the connection failed.
    Failed(std::io::Error),
}

/// Why the channel could not be claimed.
#[derive(Debug)]
pub(crate) enum BindError {
    /// Another process answers there already.
    Taken,
    Failed(std::io::Error),
}

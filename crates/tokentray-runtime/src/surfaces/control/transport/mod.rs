//! The seam where the OS's local socket lives: the rest of the control
//! channel reads and writes lines over whatever this gives. On Unix it is a
//! socket file in the private data directory (0600 in a 0700 directory);
//! a Windows named pipe that only the user can open belongs here too.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{address, bind, connect, Listener};

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

//! The control channel on Unix: a socket file in the private data directory.

use super::{BindError, ConnectError, Connection};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use tokio::net::{UnixListener, UnixStream};

/// Where the engine of `data_dir` answers.
pub(crate) fn address(data_dir: &Path) -> PathBuf {
    data_dir.join("tokentray.sock")
}

pub(crate) struct Listener {
    listener: UnixListener,
    path: PathBuf,
}

/// Claims the address: refused while another process answers there; a
/// socket file a dead process left behind is replaced.
pub(crate) async fn bind(path: &Path) -> Result<Listener, BindError> {
    if UnixStream::connect(path).await.is_ok() {
        return Err(BindError::Taken);
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(BindError::Failed)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(BindError::Failed)?;
    Ok(Listener { listener, path: path.to_owned() })
}

impl Listener {
    pub(crate) async fn accept(&self) -> std::io::Result<Connection> {
        let (stream, _) = self.listener.accept().await?;
        Ok(split(stream))
    }
}

impl Drop for Listener {
    /// Nobody answers here any more: a client must find nothing, not a dead socket.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub(crate) async fn connect(path: &Path) -> Result<Connection, ConnectError> {
    match UnixStream::connect(path).await {
        Ok(stream) => Ok(split(stream)),
        // No socket file, or one whose process is gone.
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => Err(ConnectError::Nobody),
        Err(e) => Err(ConnectError::Failed(e)),
    }
}

fn split(stream: UnixStream) -> Connection {
    let (read, write) = stream.into_split();
    Connection { read: Box::new(read), write: Box::new(write) }
}

//! The control channel on Unix: a socket file in the private data directory.

use super::{BindError, Claim, ConnectError, Connection, Endpoint};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use tokio::net::{UnixListener, UnixStream};

/// Where `endpoint` of `data_dir` answers.
pub(crate) fn address(data_dir: &Path, endpoint: Endpoint) -> PathBuf {
    data_dir.join(format!("{}.sock", endpoint.name()))
}

pub(crate) struct Listener {
    listener: UnixListener,
    path: PathBuf,
    /// Held for the listener's life, released after its socket file is gone
    /// (fields drop after `Drop::drop`), unless handed on by [`Listener::close`].
    claim: Option<Claim>,
}

/// Claims the address: refused while another process answers there. The
/// claim is an exclusive lock beside the socket, held for the process's
/// life, so two processes starting at once cannot both take the address
/// (one replacing the other's socket file), and a socket file is removed
/// only while holding it: then its process is gone, or it would hold it.
pub(crate) async fn bind(data_dir: &Path, endpoint: Endpoint) -> Result<Listener, BindError> {
    let path = &address(data_dir, endpoint);
    let claim = super::take_claim(data_dir, endpoint)?;
    // An older TokenTray, from before the claim, may still answer without it.
    match UnixStream::connect(path).await {
        Ok(_) => return Err(BindError::Taken),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound) => {}
        // Its process is gone: the file is what it left behind.
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionRefused) => match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(BindError::Failed(e)),
        },
        // Something may be there that answers slowly: never remove it blind.
        Err(e) => return Err(BindError::Failed(e)),
    }
    let listener = UnixListener::bind(path).map_err(BindError::Failed)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(BindError::Failed)?;
    Ok(Listener { listener, path: path.to_owned(), claim: Some(claim) })
}

impl Listener {
    pub(crate) async fn accept(&self) -> std::io::Result<Connection> {
        let (stream, _) = self.listener.accept().await?;
        Ok(split(stream))
    }

    /// Stops answering (the socket file goes) but keeps the claim until the
    /// returned value is dropped: no other engine starts here while this
    /// one's last work finishes.
    pub(crate) fn close(mut self) -> Option<Claim> {
        self.claim.take()
    }
}

impl Drop for Listener {
    /// Nobody answers here any more: a client must find nothing, not a dead
    /// socket. The file is this listener's: nobody else binds without the claim.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub(crate) async fn connect(data_dir: &Path, endpoint: Endpoint) -> Result<Connection, ConnectError> {
    match UnixStream::connect(address(data_dir, endpoint)).await {
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

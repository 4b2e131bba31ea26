//! The control channel on Windows: a named pipe whose access list grants
//! this user alone, refusing remote clients. Pipe names are one namespace
//! for the whole machine, so a predictable name could be taken first by
//! another user (and the engine never start): each start makes a random
//! name, asks to be its first instance, and publishes it in a file of the
//! private data directory, where only this user can read or change it.
//! The client still talks only to a pipe this user owns.

use super::{BindError, Claim, ConnectError, Connection, Endpoint};
use std::os::windows::io::AsHandle;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokentray_adapters::os::windows::{current_user_sid, owner_of, Inherit, OwnerOnly};
use tokio::net::windows::named_pipe::{ClientOptions, NamedPipeServer, ServerOptions};

const ERROR_FILE_NOT_FOUND: i32 = 2;
const ERROR_PIPE_BUSY: i32 = 231;

/// The file that names the pipe `endpoint` of `data_dir` answers on.
pub(crate) fn address(data_dir: &Path, endpoint: Endpoint) -> PathBuf {
    data_dir.join(format!("{}.pipe", endpoint.name()))
}

/// A name nobody can have guessed and taken first.
fn fresh_name(endpoint: Endpoint) -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(r"\\.\pipe\tokentray-{}-{hex}", endpoint.name())
}

pub(crate) struct Listener {
    name: String,
    /// The file that publishes `name`, removed with the listener.
    published: PathBuf,
    descriptor: OwnerOnly,
    /// The instance the next client connects to.
    next: tokio::sync::Mutex<NamedPipeServer>,
    claim: Option<Claim>,
}

pub(crate) async fn bind(data_dir: &Path, endpoint: Endpoint) -> Result<Listener, BindError> {
    let claim = super::take_claim(data_dir, endpoint)?;
    let name = fresh_name(endpoint);
    let descriptor = OwnerOnly::new(Inherit::Nothing).map_err(BindError::Failed)?;
    let first = create(&name, &descriptor, true).map_err(BindError::Failed)?;
    // Published once it answers; only this user can read or replace the file.
    let published = address(data_dir, endpoint);
    tokentray_adapters::atomic::write_private(&published, name.as_bytes()).map_err(BindError::Failed)?;
    Ok(Listener { name, published, descriptor, next: tokio::sync::Mutex::new(first), claim: Some(claim) })
}

#[allow(unsafe_code)] // the SAFETY note says why it is sound
fn create(name: &str, descriptor: &OwnerOnly, first: bool) -> std::io::Result<NamedPipeServer> {
    let mut attributes = descriptor.attributes();
    // SAFETY: the attributes and the descriptor they point to outlive the call.
    unsafe {
        ServerOptions::new().first_pipe_instance(first).reject_remote_clients(true).create_with_security_attributes_raw(
            name,
            (&mut attributes as *mut windows_sys::Win32::Security::SECURITY_ATTRIBUTES).cast(),
        )
    }
}

impl Listener {
    /// The next client. Cancel-safe: an instance a cancelled wait left
    /// listening is the one the next call waits on.
    pub(crate) async fn accept(&self) -> std::io::Result<Connection> {
        let mut next = self.next.lock().await;
        next.connect().await?;
        // A new instance takes the connected one's place before it is handed on.
        let connected = std::mem::replace(&mut *next, create(&self.name, &self.descriptor, false)?);
        Ok(split(connected))
    }

    /// Stops answering (the pipe closes when the listener drops) but keeps
    /// the claim until the returned value is dropped.
    pub(crate) fn close(mut self) -> Option<Claim> {
        self.claim.take()
    }
}

impl Drop for Listener {
    /// Nobody answers here any more; the file is this listener's (nobody
    /// publishes without the claim).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.published);
    }
}

pub(crate) async fn connect(data_dir: &Path, endpoint: Endpoint) -> Result<Connection, ConnectError> {
    let published = address(data_dir, endpoint);
    let name = match tokentray_adapters::atomic::read_regular(&published, 256) {
        Ok(Some(name)) if name.starts_with(r"\\.\pipe\tokentray-") => name,
        Ok(Some(_)) => {
            return Err(ConnectError::Failed(std::io::Error::other(format!(
                "{} does not name a TokenTray pipe",
                published.display()
            ))))
        }
        Ok(None) => return Err(ConnectError::Nobody),
        Err(e) => return Err(ConnectError::Failed(e)),
    };
    let mut busy_since = None;
    let client = loop {
        match ClientOptions::new().open(&name) {
            Ok(client) => break client,
            Err(e) if e.raw_os_error() == Some(ERROR_FILE_NOT_FOUND) => return Err(ConnectError::Nobody),
            // Every instance is taken for the moment: the server makes the next at once.
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY) => {
                let since = *busy_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() > Duration::from_secs(10) {
                    return Err(ConnectError::Failed(e));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(ConnectError::Failed(e)),
        }
    };
    // Say nothing (a pasted code, a secret) to a pipe another user made.
    let ours = current_user_sid().map_err(ConnectError::Failed)?;
    let owner = owner_of(client.as_handle()).map_err(ConnectError::Failed)?;
    if owner != ours {
        return Err(ConnectError::Failed(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("the pipe {name} belongs to another user ({owner}); TokenTray does not talk to it"),
        )));
    }
    Ok(split(client))
}

fn split<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static>(stream: S) -> Connection {
    let (read, write) = tokio::io::split(stream);
    Connection { read: Box::new(read), write: Box::new(write) }
}

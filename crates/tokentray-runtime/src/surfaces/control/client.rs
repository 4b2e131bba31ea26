//! Asking the running TokenTray. Every answer is the reply its request is
//! paired with, or an error that says which of these it was: nothing runs
//! here (the caller may do the work itself), the running one went away
//! mid-answer, it answered what this version cannot read, or it said no.

use super::lines::{LineError, LineReader};
use super::protocol::{call, line, Answer, Call, LoginProgress, PasteLine, Refusal, Request, MAX_ANSWER};
use super::transport::{self, ConnectError, Connection, Endpoint};
use crate::AccountStatus;
use serde::de::DeserializeOwned;
use std::path::Path;
use tokentray_adapters::Secret;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answers: the caller may do the work itself.
    #[error("no TokenTray is running here")]
    NotRunning,
    /// The running TokenTray closed the connection before its answer. Doing
    /// the work here as well would run a second engine beside it.
    #[error("the running TokenTray closed the connection before it answered ({0}); its log says why; try again")]
    Dropped(String),
    #[error(
        "the running TokenTray answered something this version cannot read ({0}); restart it, so that both are \
         the same version"
    )]
    Garbled(String),
    /// The running TokenTray said no, with what fixes it.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl ClientError {
    /// What fixes it: the refusal's own remedy; retrying, for a connection that broke.
    pub fn remedy(&self) -> crate::Remedy {
        match self {
            Self::Refused(r) => r.remedy,
            Self::Dropped(_) => crate::Remedy::Retry,
            Self::NotRunning | Self::Garbled(_) => crate::Remedy::Other,
        }
    }
}

/// A connection to the running TokenTray, reading its answers line by line
/// (safe to wait on beside other things: a line that partly arrived is kept).
pub(crate) struct Session {
    pub(crate) lines: LineReader<Box<dyn tokio::io::AsyncRead + Send + Unpin>>,
    pub(crate) write: Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
}

impl Session {
    pub(crate) async fn open(data_dir: &Path) -> Result<Self, ClientError> {
        let Connection { read, write } = match transport::connect(data_dir, Endpoint::Engine).await {
            Ok(c) => c,
            Err(ConnectError::Nobody) => return Err(ClientError::NotRunning),
            Err(ConnectError::Failed(e)) => return Err(ClientError::Dropped(format!("cannot connect: {e}"))),
        };
        // Each answer is bounded, not the whole: a stream of changes may run for months.
        Ok(Self { lines: LineReader::new(read, MAX_ANSWER), write })
    }

    async fn send(&mut self, value: &impl serde::Serialize) -> Result<(), ClientError> {
        self.write.write_all(line(value).as_bytes()).await.map_err(|e| ClientError::Dropped(e.to_string()))
    }

    /// The next answer line; `Dropped` at the end of the stream.
    async fn next<T: DeserializeOwned>(&mut self) -> Result<Answer<T>, ClientError> {
        match self.lines.next().await {
            Ok(Some(text)) => serde_json::from_str(&text).map_err(|e| ClientError::Garbled(e.to_string())),
            Ok(None) => Err(ClientError::Dropped("no answer".to_owned())),
            Err(LineError::Io(e)) => Err(ClientError::Dropped(e.to_string())),
            Err(e) => Err(ClientError::Garbled(e.to_string())),
        }
    }
}

/// Sends `request` to the running TokenTray and returns its reply.
pub async fn ask<C: Call>(data_dir: &Path, request: C) -> Result<C::Reply, ClientError> {
    let mut session = Session::open(data_dir).await?;
    session.send(&request.into()).await?;
    match session.next::<C::Reply>().await? {
        Answer::Reply(reply) => Ok(reply),
        Answer::Error(refusal) => Err(refusal.into()),
        Answer::Progress(_) | Answer::Changed(_) | Answer::Noticed(_) => {
            Err(ClientError::Garbled("a stream line to a plain request".into()))
        }
    }
}

/// Whether a TokenTray answers here (the same version or not).
pub async fn is_running(data_dir: &Path) -> bool {
    !matches!(ask(data_dir, call::Status {}).await, Err(ClientError::NotRunning))
}

/// Runs a login in the running TokenTray: `progress` hears how it goes, and
/// the addresses the user pastes (`pasted`) go to it as they come. Ends
/// with the account's status once the token is stored.
pub async fn log_in(
    data_dir: &Path,
    request: call::Login,
    mut progress: impl FnMut(&LoginProgress),
    mut pasted: mpsc::Receiver<Secret>,
) -> Result<AccountStatus, ClientError> {
    let mut session = Session::open(data_dir).await?;
    session.send(&Request::from(request)).await?;
    let mut pasting = true;
    loop {
        tokio::select! {
            answer = session.next::<AccountStatus>() => match answer? {
                Answer::Reply(status) => return Ok(status),
                Answer::Error(refusal) => return Err(refusal.into()),
                Answer::Progress(p) => progress(&p),
                Answer::Changed(_) | Answer::Noticed(_) => {
                    return Err(ClientError::Garbled("a change line in a login".into()))
                }
            },
            paste = pasted.recv(), if pasting => match paste {
                Some(paste) => session.send(&PasteLine { paste }).await?,
                None => pasting = false,
            },
        }
    }
}

/// Calls `on_change` with the account of every change the running
/// TokenTray reports (at once with no account, when subscribed), until it
/// goes away (`Ok`).
pub async fn follow_changes(data_dir: &Path, mut on_change: impl FnMut(&str)) -> Result<(), ClientError> {
    let mut session = Session::open(data_dir).await?;
    session.send(&Request::from(call::Subscribe { notices: false })).await?;
    loop {
        match session.next::<()>().await {
            Ok(Answer::Changed(account)) => on_change(&account),
            Ok(Answer::Error(refusal)) => return Err(refusal.into()),
            Ok(_) => return Err(ClientError::Garbled("not a change line".into())),
            Err(ClientError::Dropped(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Waits until no engine holds `data_dir`'s claim (its last work is done),
/// up to `limit`; whether it is gone.
pub async fn wait_until_stopped(data_dir: &Path, limit: std::time::Duration) -> bool {
    let started = std::time::Instant::now();
    loop {
        if super::transport::claim_is_free(data_dir, Endpoint::Engine) {
            return true;
        }
        if started.elapsed() >= limit {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

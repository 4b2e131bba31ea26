//! The server's end (`tokentray remote-serve`, run by a desktop's ssh):
//! each call that comes on standard input is relayed to this machine's
//! running TokenTray over its control channel, and its answers go back on
//! standard output, each in its call's envelope. It keeps no state and
//! holds no token: the daemon does; this ends with the session.

use super::wire::{admitted, Hello, ToDesktop, ToServer};
use crate::control::line as as_line;
use crate::control::{Answer, ClientError, LineReader, PasteLine, Refusal, Request, Session, MAX_LINE};
use crate::Remedy;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokentray_adapters::config::remote::SshAccess;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// An envelope is a control line and a few dozen bytes.
const MAX_ENVELOPE: usize = MAX_LINE + 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServeRemoteError {
    #[error("cannot write to the SSH session: {0}")]
    Write(std::io::Error),
    #[error("the desktop sent {0}; is it another TokenTray version?")]
    Garbled(String),
}

/// Serves the remote protocol on this process's standard input and output.
pub async fn serve_stdio(data_dir: PathBuf, access: SshAccess) -> Result<(), ServeRemoteError> {
    serve(data_dir, access, tokio::io::stdin(), tokio::io::stdout()).await
}

/// Serves the remote protocol on `read` and `write` until `read` ends;
/// `access` says which tokens may leave (the server's `[ssh_access]`).
pub async fn serve(
    data_dir: PathBuf,
    access: SshAccess,
    read: impl AsyncRead + Send + Unpin + 'static,
    mut write: impl AsyncWrite + Send + Unpin + 'static,
) -> Result<(), ServeRemoteError> {
    write.write_all(as_line(&Hello::ours()).as_bytes()).await.map_err(ServeRemoteError::Write)?;
    write.flush().await.map_err(ServeRemoteError::Write)?;
    let (out, mut to_write) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(line) = to_write.recv().await {
            if write.write_all(line.as_bytes()).await.is_err() || write.flush().await.is_err() {
                break;
            }
        }
    });
    let mut lines = LineReader::new(read, MAX_ENVELOPE);
    // Each call's way to its relay (dropped: the desktop hung it up), and
    // whether it takes later lines: a login's pasted addresses, nothing else.
    let mut calls: HashMap<u64, (mpsc::UnboundedSender<String>, bool)> = HashMap::new();
    let result = loop {
        let text = match lines.next().await {
            Ok(Some(text)) => text,
            Ok(None) => break Ok(()),
            Err(e) => break Err(ServeRemoteError::Garbled(e.to_string())),
        };
        let Ok(envelope) = serde_json::from_str::<ToServer>(&text) else {
            break Err(ServeRemoteError::Garbled("a line that is not the remote protocol's".to_owned()));
        };
        let id = envelope.id;
        if envelope.close {
            calls.remove(&id);
            continue;
        }
        let Some(line) = envelope.line else { continue };
        if let Some(call) = calls.get(&id) {
            // A later line of a login, read as a pasted address and written
            // again as one: nothing else reaches the engine past `admitted`.
            match (call, serde_json::from_value::<PasteLine>(line)) {
                ((pastes, true), Ok(paste)) => {
                    let _ = pastes.send(as_line(&paste));
                }
                _ => tracing::warn!("remote: a line refused: a call takes no more lines, a login only addresses"),
            }
            continue;
        }
        let request = serde_json::from_value::<Request>(line)
            .map_err(|e| {
                format!("not a request this server knows ({:?}); install the same version on both", e.classify())
            })
            .and_then(admitted)
            .and_then(|r| match r {
                Request::Token(c) if !access.tokens.contains(&c.account) => Err(format!(
                    "this server keeps `{a}`'s token: to let a desktop copy it, add [ssh_access] tokens = [\"{a}\"] \
                     to the server's config",
                    a = c.account
                )),
                other => Ok(other),
            });
        match request {
            Ok(request) => {
                tracing::info!("remote request: {}", request.describe());
                let (sender, receiver) = mpsc::unbounded_channel();
                let takes_pastes = matches!(request, Request::Login(_));
                calls.insert(id, (sender, takes_pastes));
                tokio::spawn(relay(data_dir.clone(), id, request, receiver, out.clone()));
            }
            Err(why) => refuse(&out, id, Refusal::other(why)),
        }
    };
    // Every call's connection closes with its sender; what is queued still goes out.
    drop(calls);
    drop(out);
    let _ = writer.await;
    result
}

/// One call: a connection of its own to the running engine, its lines passed both ways.
async fn relay(
    data_dir: PathBuf,
    id: u64,
    request: Request,
    mut from_desktop: mpsc::UnboundedReceiver<String>,
    out: mpsc::UnboundedSender<String>,
) {
    let mut session = match Session::open(&data_dir).await {
        Ok(session) => session,
        Err(ClientError::NotRunning) => return refuse(&out, id, not_running(&data_dir)),
        Err(e) => return refuse(&out, id, Refusal { remedy: e.remedy(), message: e.to_string() }),
    };
    // A plain call has one answer; a login and a subscription run on.
    let streams = matches!(request, Request::Login(_) | Request::Subscribe(_));
    let request = as_line(&request);
    if session.write.write_all(request.as_bytes()).await.is_err() {
        return refuse(&out, id, Refusal { remedy: Remedy::Retry, message: "the server's TokenTray hung up".into() });
    }
    loop {
        tokio::select! {
            text = session.lines.next() => match text {
                Ok(Some(text)) => match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(line) => {
                        let last = !streams || matches!(
                            serde_json::from_value::<Answer<serde::de::IgnoredAny>>(line.clone()),
                            Ok(Answer::Reply(_) | Answer::Error(_))
                        );
                        let _ = out.send(as_line(&ToDesktop { id, line: Some(line), end: false }));
                        if last {
                            break;
                        }
                    }
                    Err(_) => break,
                },
                Ok(None) | Err(_) => break,
            },
            more = from_desktop.recv() => match more {
                Some(line) => {
                    if session.write.write_all(line.as_bytes()).await.is_err() {
                        break;
                    }
                }
                // The desktop hung this call up: so does its connection.
                None => break,
            },
        }
    }
    let _ = out.send(as_line(&ToDesktop { id, line: None, end: true }));
}

fn not_running(data_dir: &Path) -> Refusal {
    Refusal::other(format!(
        "no TokenTray runs on this server (for the data directory {}): start its daemon there \
         (systemctl --user enable --now tokentray, or tokentray daemon), so that it keeps the tokens \
         while no desktop is connected",
        data_dir.display()
    ))
}

fn refuse(out: &mpsc::UnboundedSender<String>, id: u64, refusal: Refusal) {
    let answer = serde_json::to_value(Answer::<()>::Error(refusal)).expect("answers serialize");
    let _ = out.send(as_line(&ToDesktop { id, line: Some(answer), end: false }));
    let _ = out.send(as_line(&ToDesktop { id, line: None, end: true }));
}

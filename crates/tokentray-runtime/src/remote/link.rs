//! A desktop's session with one server: ssh running the server's
//! `tokentray remote-serve`, several calls at once over it (a subscription
//! that runs for months beside a login and a status), each paired with its
//! reply type as on the local control channel.

use super::error::RemoteError;
use super::ssh;
use super::wire::{Hello, ToDesktop, ToServer, PROTOCOL};
use crate::control::line as as_line;
use crate::control::{Answer, Call, LineReader, Request, MAX_ANSWER};
use crate::process_tree::{ProcessTree, Terminal};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokentray_adapters::config::remote::RemoteConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

/// How long a server has to say hello: ssh's own connect timeout, the
/// login, and the server's TokenTray starting.
pub(crate) const HELLO_WITHIN: Duration = Duration::from_secs(45);
/// What of ssh's standard error is kept to say why it failed.
const STDERR_KEPT: usize = 8 * 1024;
/// How long a plain call may take: the server's engine answers in
/// milliseconds, a broker call within its timeout.
const ASK_WITHIN: Duration = Duration::from_secs(90);
/// Answer lines a call may have waiting unread; past this the server is
/// flooding, and the session ends rather than the memory.
const UNREAD: usize = 64;
/// How long ssh gets to exit once its output ended.
const EXIT_WITHIN: Duration = Duration::from_secs(5);

type Calls = Arc<Mutex<HashMap<u64, mpsc::Sender<Frame>>>>;

/// What a call hears from the server.
enum Frame {
    Line(serde_json::Value),
    End,
}

/// One live session. Dropping it ends ssh (and so the server's side).
pub struct Link {
    server: String,
    /// The server's TokenTray version, from its hello.
    pub version: String,
    out: mpsc::UnboundedSender<String>,
    calls: Calls,
    next_id: AtomicU64,
    /// Why the session ended, once it has.
    ended: watch::Receiver<Option<String>>,
    /// Ends the session (ssh, and with it the server's side) when the link is dropped.
    hang_up: Arc<tokio::sync::Notify>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.hang_up.notify_one();
    }
}

impl Link {
    /// Starts ssh and waits for the server's hello; any failure before it
    /// says which (a host key, a key, no tokentray there, another protocol).
    pub async fn open(remote: &RemoteConfig) -> Result<Self, RemoteError> {
        let server = remote.name.clone();
        let mut command = ssh::command(remote);
        command.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
        command.stderr(std::process::Stdio::piped());
        let mut tree = ProcessTree::spawn(command, Terminal::Leave).map_err(|e| RemoteError::NoSshClient {
            program: remote.ssh_program.display().to_string(),
            why: e.to_string(),
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (tree.take_stdin(), tree.take_stdout(), tree.take_stderr())
        else {
            return Err(RemoteError::NoSshClient {
                program: remote.ssh_program.display().to_string(),
                why: "its standard streams could not be opened".to_owned(),
            });
        };
        let stderr_text = Arc::new(Mutex::new(String::new()));
        let stderr_done = tokio::spawn(keep_stderr(stderr, stderr_text.clone(), server.clone()));
        // An envelope is an answer line and a few dozen bytes.
        let limit = MAX_ANSWER + 1024;
        let mut lines = LineReader::new(Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Send + Unpin>, limit);
        let first = tokio::time::timeout(HELLO_WITHIN, lines.next()).await;
        let not_hello = |said: String| RemoteError::Mismatch {
            server: server.clone(),
            said,
            ours: env!("CARGO_PKG_VERSION").to_owned(),
        };
        let hello = match first {
            Ok(Ok(Some(text))) => match serde_json::from_str::<Hello>(&text) {
                Ok(hello) => hello,
                Err(_) => {
                    tree.kill().await;
                    let shown: String = text.chars().filter(|c| !c.is_control()).take(120).collect();
                    return Err(not_hello(format!("its first line was not TokenTray's hello: {shown}")));
                }
            },
            Ok(Err(e)) => {
                tree.kill().await;
                return Err(not_hello(format!("its first line was not TokenTray's hello ({e})")));
            }
            Ok(Ok(None)) => {
                let exit = match tokio::time::timeout(EXIT_WITHIN, tree.wait()).await {
                    Ok(status) => status.ok().and_then(|s| s.code()),
                    Err(_) => {
                        tree.kill().await;
                        None
                    }
                };
                let _ = tokio::time::timeout(EXIT_WITHIN, stderr_done).await;
                let said = stderr_text.lock().map(|t| t.clone()).unwrap_or_default();
                return Err(ssh::failure(remote, &said, exit));
            }
            Err(_) => {
                tree.kill().await;
                return Err(RemoteError::Unreachable {
                    server,
                    why: format!("no answer within {} s", HELLO_WITHIN.as_secs()),
                });
            }
        };
        if hello.tokentray_remote != PROTOCOL {
            tree.kill().await;
            return Err(RemoteError::Mismatch {
                server,
                said: format!(
                    "version {} speaks protocol {}, this one {PROTOCOL}",
                    hello.version, hello.tokentray_remote
                ),
                ours: env!("CARGO_PKG_VERSION").to_owned(),
            });
        }
        let calls: Calls = Arc::default();
        let (out, to_send) = mpsc::unbounded_channel::<String>();
        let (ended_tx, ended) = watch::channel(None);
        let hang_up = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(write_lines(stdin, to_send));
        let session =
            Session { calls: calls.clone(), ended: ended_tx, tree, stderr: stderr_text, server: server.clone() };
        tokio::spawn(read_lines(lines, session, hang_up.clone()));
        Ok(Self {
            server,
            version: super::wire::plain(&hello.version),
            out,
            calls,
            next_id: AtomicU64::new(1),
            ended,
            hang_up,
        })
    }

    /// The wall clock, for what a command with no engine shows.
    pub(crate) fn now(&self) -> tokentray_core::Instant {
        crate::Clock::now(&crate::SystemClock)
    }

    /// Waits until the session ends; why it did.
    pub async fn ended(&self) -> String {
        let mut ended = self.ended.clone();
        loop {
            if let Some(why) = ended.borrow().clone() {
                return why;
            }
            if ended.changed().await.is_err() {
                return "the session ended".to_owned();
            }
        }
    }

    /// Starts a call: its request goes out, its answers come to the stream.
    pub(crate) fn start(&self, request: Request) -> Result<CallStream<'_>, RemoteError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (frames, receiver) = mpsc::channel(UNREAD);
        {
            // Under the lock the reader ends every call with: a call started
            // after the end is told at once, never left waiting.
            let mut calls = crate::plumbing::mutex::lock(&self.calls);
            if self.ended.borrow().is_some() {
                return Err(self.dropped());
            }
            calls.insert(id, frames);
        }
        let stream = CallStream { link: self, id, frames: receiver };
        stream.send(&request)?;
        Ok(stream)
    }

    /// Asks the server's engine; its reply, or why not.
    pub async fn ask<C: Call>(&self, request: C) -> Result<C::Reply, RemoteError> {
        let mut call = self.start(request.into())?;
        let answer =
            tokio::time::timeout(ASK_WITHIN, call.next::<C::Reply>()).await.map_err(|_| RemoteError::Unreachable {
                server: self.server.clone(),
                why: format!("no answer within {} s", ASK_WITHIN.as_secs()),
            })?;
        match answer? {
            Answer::Reply(reply) => Ok(reply),
            Answer::Error(mut refusal) => {
                refusal.message = super::wire::plain(&refusal.message);
                Err(RemoteError::Refused { server: self.server.clone(), refusal })
            }
            _ => Err(self.garbled("a stream line to a plain request")),
        }
    }

    fn garbled(&self, why: &str) -> RemoteError {
        RemoteError::Garbled { server: self.server.clone(), why: why.to_owned() }
    }

    fn dropped(&self) -> RemoteError {
        let why = self.ended.borrow().clone().unwrap_or_else(|| "the session ended".to_owned());
        RemoteError::Dropped { server: self.server.clone(), why }
    }
}

/// One call's answers.
pub(crate) struct CallStream<'a> {
    link: &'a Link,
    id: u64,
    frames: mpsc::Receiver<Frame>,
}

impl CallStream<'_> {
    /// Sends one more line to this call (a pasted address).
    pub(crate) fn send(&self, value: &impl serde::Serialize) -> Result<(), RemoteError> {
        let line = serde_json::to_value(value).map_err(|e| self.link.garbled(&e.to_string()))?;
        let envelope = ToServer { id: self.id, line: Some(line), close: false };
        self.link.out.send(as_line(&envelope)).map_err(|_| self.link.dropped())
    }

    /// The call's next answer line; `Dropped` when the server ends it or the session ends.
    pub(crate) async fn next<T: DeserializeOwned>(&mut self) -> Result<Answer<T>, RemoteError> {
        match self.frames.recv().await {
            // Never serde's words: they could quote a value, and a value may be a token.
            Some(Frame::Line(value)) => serde_json::from_value(value)
                .map_err(|e| self.link.garbled(&format!("an unexpected {:?}", e.classify()))),
            Some(Frame::End) | None => Err(self.link.dropped()),
        }
    }

    pub(crate) fn server(&self) -> &str {
        &self.link.server
    }
}

impl Drop for CallStream<'_> {
    fn drop(&mut self) {
        if let Ok(mut calls) = self.link.calls.lock() {
            calls.remove(&self.id);
        }
        let _ = self.link.out.send(as_line(&ToServer { id: self.id, line: None, close: true }));
    }
}

async fn write_lines(mut stdin: tokio::process::ChildStdin, mut lines: mpsc::UnboundedReceiver<String>) {
    while let Some(line) = lines.recv().await {
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            break;
        }
    }
}

/// What the reading side owns of a session.
struct Session {
    calls: Calls,
    ended: watch::Sender<Option<String>>,
    tree: ProcessTree,
    stderr: Arc<Mutex<String>>,
    server: String,
}

/// Hands each line to its call until the session ends (or the link hangs
/// up), then ends ssh and every call.
async fn read_lines(
    mut lines: LineReader<Box<dyn tokio::io::AsyncRead + Send + Unpin>>,
    mut session: Session,
    hang_up: Arc<tokio::sync::Notify>,
) {
    let why = loop {
        let next = tokio::select! {
            next = lines.next() => next,
            () = hang_up.notified() => break "hung up here".to_owned(),
        };
        match next {
            Ok(Some(text)) => {
                let Ok(envelope) = serde_json::from_str::<ToDesktop>(&text) else {
                    break "it sent a line that is not the remote protocol's".to_owned();
                };
                let frame = match envelope.line {
                    Some(line) => Frame::Line(line),
                    None => Frame::End,
                };
                let sender = session.calls.lock().ok().and_then(|c| c.get(&envelope.id).cloned());
                if let Some(sender) = sender {
                    if let Err(mpsc::error::TrySendError::Full(_)) = sender.try_send(frame) {
                        break format!("it sent more than {UNREAD} answers that were not read");
                    }
                }
            }
            Ok(None) => break "the SSH session ended".to_owned(),
            Err(e) => break format!("cannot read the session: {e}"),
        }
    };
    session.tree.kill().await;
    let said = session.stderr.lock().map(|t| t.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").to_owned());
    let why = match said {
        Ok(said) if !said.is_empty() => format!("{why} ({said})"),
        _ => why,
    };
    let why: String = why.chars().filter(|c| !c.is_control()).collect();
    tracing::info!(server = %session.server, "remote session ended: {why}");
    let mut calls = crate::plumbing::mutex::lock(&session.calls);
    session.ended.send_replace(Some(why));
    for (_, sender) in calls.drain() {
        let _ = sender.try_send(Frame::End);
    }
}

/// Keeps the last of ssh's standard error (why it failed) and logs it.
async fn keep_stderr(mut stderr: tokio::process::ChildStderr, kept: Arc<Mutex<String>>, server: String) {
    let mut buffer = [0u8; 1024];
    while let Ok(n) = stderr.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&buffer[..n]);
        tracing::debug!(server = %server, "ssh: {}", text.trim_end());
        if let Ok(mut kept) = kept.lock() {
            kept.push_str(&text);
            if kept.len() > STDERR_KEPT {
                let cut = kept.len() - STDERR_KEPT;
                let cut = (cut..kept.len()).find(|&i| kept.is_char_boundary(i)).unwrap_or(kept.len());
                kept.drain(..cut);
            }
        }
    }
}

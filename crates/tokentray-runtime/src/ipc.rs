//! The local control socket: a running tray or daemon serves it, and the CLI
//! hands its requests to it instead of starting a second engine. A second
//! launch of the tray uses it to bring the first one's window forward.
//!
//! One JSON request per line, one JSON response per line, over a Unix socket
//! in the private data directory (mode 0600).

use crate::login::LoginOptions;
use crate::{AccountStatus, AccountView, Engine, EngineError, Remedy, Settings};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokentray_adapters::config_edit::AccountDraft;
use tokentray_adapters::Secret;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Status,
    Login {
        account: String,
    },
    Refresh {
        account: String,
    },
    Logout {
        account: String,
    },
    Token {
        account: String,
    },
    /// Ask the provider now whether the token works.
    Check {
        account: String,
    },
    /// Bring the window forward (a second launch of the tray).
    Show,
    /// What the window shows: every account with its form's settings.
    Accounts,
    Settings,
    /// The window's account form. The api secret and PIN, if given, go to
    /// the secret store; the socket is the user's alone (0600 in a 0700 directory).
    SaveAccount {
        draft: Box<AccountDraft>,
        replacing: Option<String>,
        /// Masked in `Debug`, as every `Secret`.
        api_secret: Option<Secret>,
        pin: Option<Secret>,
    },
    DeleteAccount {
        account: String,
    },
    SaveThresholds {
        orange: String,
        red: String,
    },
    /// Every change from now on, one `Changed` line each, until the client hangs up.
    Subscribe,
    /// The last days of every account's history, for the window's timeline.
    History,
    /// Snooze notifications for this many seconds; `None` resumes them.
    Snooze {
        seconds: Option<u64>,
    },
    /// The address the browser landed on, for a login that waits for it.
    /// Never logged: it carries the login's code or tokens.
    PasteRedirect {
        account: String,
        url: Secret,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Statuses {
        accounts: Vec<AccountStatus>,
    },
    Status {
        account: Box<AccountStatus>,
    },
    Accounts {
        accounts: Vec<AccountView>,
    },
    Settings {
        settings: Settings,
    },
    History {
        entries: Vec<crate::history::HistoryEntry>,
    },
    /// Something about `account` changed (empty: about no one account).
    Changed {
        account: String,
    },
    Token {
        access_token: String,
        /// Angel One's feed token, which its market-data stream needs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        feed_token: Option<String>,
    },
    Done {
        message: String,
    },
    /// An interim answer to a long request: the server took it on (a login:
    /// the browser is open there). The final answer follows on the next line.
    Started {
        message: String,
    },
    /// The server cannot do this here (a daemon has no browser): do it yourself.
    Unsupported {
        message: String,
    },
    Error {
        message: String,
        /// What fixes it; the CLI turns it into its exit code.
        remedy: Remedy,
    },
}

/// The longest request line read: real requests are a few dozen bytes, and
/// a client must not make the server buffer without end.
pub const MAX_REQUEST_LINE: usize = 16 * 1024;

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("tokentray.sock")
}

/// What the serving process can do besides the engine's work.
pub struct Host {
    /// Brings the window forward; `None` for the headless daemon.
    pub show: Option<Box<dyn Fn() + Send + Sync>>,
    /// Whether a login may open the browser here.
    pub can_log_in: bool,
    /// Whether the engine runs on the demo broker.
    pub demo: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    #[error(
        "another TokenTray is already running here (it answers on {0}); stop it first: one engine per data directory"
    )]
    AlreadyRunning(PathBuf),
    #[error("control socket {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Serves the control socket until the engine shuts down. Fails if another
/// process already serves it; a socket left behind by a dead process is replaced.
pub async fn serve(engine: Engine, host: Host) -> Result<tokio::task::JoinHandle<()>, IpcError> {
    let claimed = claim(&engine).await?;
    Ok(serve_claimed(claimed, engine, host))
}

/// The socket, bound and not yet answering: the one engine of this data
/// directory is this process's. Requests that come before
/// [`serve_claimed`] wait for it (a start-up's recovery runs first).
pub struct Claimed {
    listener: UnixListener,
    path: std::path::PathBuf,
}

/// Binds the control socket, or says which TokenTray already runs.
pub async fn claim(engine: &Engine) -> Result<Claimed, IpcError> {
    let path = socket_path(engine.data_dir());
    let io = |source| IpcError::Io { path: path.clone(), source };
    tokentray_adapters::atomic::create_private_dir(engine.data_dir()).map_err(io)?;
    if UnixStream::connect(&path).await.is_ok() {
        return Err(IpcError::AlreadyRunning(path));
    }
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(Claimed { listener, path })
}

/// Answers the claimed socket until the engine stops.
pub fn serve_claimed(claimed: Claimed, engine: Engine, host: Host) -> tokio::task::JoinHandle<()> {
    let Claimed { listener, path } = claimed;
    let host = Arc::new(host);
    // The process that serves the socket is the one engine here: it keeps the history.
    engine.spawn_history();
    let mut stopped = engine.stopped();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let (engine, host) = (engine.clone(), host.clone());
                    tokio::spawn(async move { connection(engine, host, stream).await });
                }
                _ = stopped.changed() => break,
            }
        }
        let _ = std::fs::remove_file(&path);
    })
}

async fn connection(engine: Engine, host: Arc<Host>, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let line = match read_request_line(&mut reader).await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(why) => {
                // The rest of an oversized line cannot be told from the next request: hang up.
                let _ = send(&mut write, &Response::Error { message: why, remedy: Remedy::Other }).await;
                break;
            }
        };
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(Request::Subscribe) => {
                tracing::info!("control request: subscribe");
                subscribe(&engine, reader, &mut write).await;
                break;
            }
            Ok(Request::Login { account }) if host.can_log_in => {
                tracing::info!("control request: login {account}");
                match log_in_telling(&engine, &host, &account, &mut write).await {
                    Some(response) => response,
                    None => break,
                }
            }
            Ok(request) => {
                tracing::info!("control request: {}", describe(&request));
                handle(&engine, &host, request).await
            }
            Err(e) => Response::Error { message: format!("bad request: {e}"), remedy: Remedy::Other },
        };
        if send(&mut write, &response).await.is_err() {
            break;
        }
    }
}

/// Runs a login for a client, telling it "opened the browser" once that is
/// true (a login that fails before, on a missing secret, never says it).
/// `None` when the client went away.
async fn log_in_telling(
    engine: &Engine,
    host: &Host,
    account: &str,
    write: &mut tokio::net::unix::OwnedWriteHalf,
) -> Option<Response> {
    // A redirect no loopback server receives comes back through the window's paste field.
    let pasted = engine.config().account(account).is_some_and(|a| !crate::login::served_on_loopback(a));
    let (opened, mut told) = tokio::sync::mpsc::unbounded_channel();
    let options = LoginOptions {
        show_url: Box::new(move |_| {
            let _ = opened.send(());
        }),
        paste_from_window: true,
        ..LoginOptions::default()
    };
    let login = engine.login(account, options);
    tokio::pin!(login);
    let result = loop {
        tokio::select! {
            result = &mut login => break result,
            Some(()) = told.recv() => {
                let message = match (pasted, &host.show) {
                    (true, Some(show)) => {
                        show();
                        "the running TokenTray opened the browser; paste the address it lands on into TokenTray's window"
                    }
                    _ => "the running TokenTray opened the browser",
                };
                send(write, &Response::Started { message: message.to_owned() }).await.ok()?;
            }
        }
    };
    Some(match result {
        Ok(outcome) => Response::Status { account: Box::new(outcome.status) },
        Err(crate::login::LoginError::Engine(e)) => failed(e),
        Err(e) => Response::Error { message: e.to_string(), remedy: e.remedy() },
    })
}

/// One request line, without its newline; `None` at the end of the stream.
/// Any bytes at all may arrive here.
pub async fn read_request_line(reader: &mut (impl AsyncBufRead + Unpin)) -> Result<Option<String>, String> {
    let mut bytes = Vec::new();
    let read = reader.take(MAX_REQUEST_LINE as u64 + 1).read_until(b'\n', &mut bytes).await;
    match read {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(format!("cannot read the request: {e}")),
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    } else if bytes.len() > MAX_REQUEST_LINE {
        return Err(format!("bad request: longer than {MAX_REQUEST_LINE} bytes"));
    }
    String::from_utf8(bytes).map(Some).map_err(|_| "bad request: not UTF-8".to_owned())
}

/// How long a subscriber may take to read one change before it is dropped.
const SUBSCRIBER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Tells the client of every change until it hangs up (noticed at once, not
/// at the next change), stops reading, or the engine stops.
async fn subscribe(
    engine: &Engine,
    mut reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    write: &mut tokio::net::unix::OwnedWriteHalf,
) {
    let mut events = engine.subscribe();
    let mut stopped = engine.stopped();
    let mut account = String::new(); // answered at once: the client knows it is subscribed
    loop {
        match tokio::time::timeout(SUBSCRIBER_PATIENCE, send(write, &Response::Changed { account })).await {
            Ok(Ok(())) => {}
            _ => return,
        }
        let mut discard = [0u8; 64];
        account = tokio::select! {
            event = events.recv() => match event {
                Ok(e) => e.account,
                // Fell behind: whatever it missed, a change it is.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => String::new(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            // The client sends nothing more: anything read, or the end, means it is gone.
            _ = reader.read(&mut discard) => return,
            _ = stopped.changed() => return,
        };
    }
}

async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, response: &Response) -> std::io::Result<()> {
    let mut text = serde_json::to_string(response).expect("responses serialize");
    text.push('\n');
    write.write_all(text.as_bytes()).await
}

fn describe(request: &Request) -> String {
    match request {
        Request::Status => "status".to_owned(),
        Request::Show => "show".to_owned(),
        Request::Login { account } => format!("login {account}"),
        Request::Refresh { account } => format!("refresh {account}"),
        Request::Logout { account } => format!("logout {account}"),
        Request::Token { account } => format!("token {account}"),
        Request::Check { account } => format!("check {account}"),
        Request::Accounts => "accounts".to_owned(),
        Request::Settings => "settings".to_owned(),
        // Never the secret or the PIN.
        Request::SaveAccount { draft, .. } => format!("save account {}", draft.id),
        Request::DeleteAccount { account } => format!("delete account {account}"),
        Request::SaveThresholds { .. } => "save thresholds".to_owned(),
        Request::Subscribe => "subscribe".to_owned(),
        Request::History => "history".to_owned(),
        Request::PasteRedirect { account, .. } => format!("paste the login's address for {account}"),
        Request::Snooze { seconds: Some(s) } => format!("snooze {s}s"),
        Request::Snooze { seconds: None } => "resume notifications".to_owned(),
    }
}

fn edit_failed(e: crate::EditFailure) -> Response {
    Response::Error { remedy: e.remedy(), message: e.to_string() }
}

fn done(what: &str) -> Response {
    Response::Done { message: what.to_owned() }
}

fn failed(e: EngineError) -> Response {
    Response::Error { remedy: e.remedy(), message: e.to_string() }
}

async fn handle(engine: &Engine, host: &Host, request: Request) -> Response {
    match request {
        Request::Status => Response::Statuses { accounts: engine.statuses() },
        Request::Show => match &host.show {
            Some(show) => {
                show();
                Response::Done { message: "shown".to_owned() }
            }
            None => Response::Unsupported { message: "the running TokenTray is the headless daemon".to_owned() },
        },
        Request::Login { .. } => {
            Response::Unsupported { message: "the running TokenTray daemon cannot open a browser".to_owned() }
        }
        Request::Snooze { seconds } => {
            // Out of range is as long as a snooze goes (the engine caps it).
            let span = seconds.map(|s| {
                i64::try_from(s).ok().and_then(tokentray_core::Span::try_seconds).unwrap_or(crate::MAX_SNOOZE)
            });
            match engine.snooze(span).await {
                Ok(Some(until)) => done(&format!("notifications snoozed until {}", crate::when(until))),
                Ok(None) => done("notifications resumed"),
                Err(e) => failed(e),
            }
        }
        Request::PasteRedirect { account, url } => match engine.paste_redirect(&account, url.expose().to_owned()).await
        {
            Ok(Ok(())) => done("logged in"),
            Ok(Err(why)) => Response::Error { message: why, remedy: Remedy::Other },
            Err(e) => failed(e),
        },
        Request::Check { account } => match engine.check(&account).await {
            Ok(status) => Response::Status { account: Box::new(status) },
            Err(e) => failed(e),
        },
        Request::Refresh { account } => match engine.refresh_or_check(&account).await {
            Ok(status) => Response::Status { account: Box::new(status) },
            Err(e) => failed(e),
        },
        Request::Logout { account } => match engine.logout(&account).await {
            Ok(()) => Response::Done { message: format!("{account}: logged out") },
            Err(e) => failed(e),
        },
        Request::Accounts => Response::Accounts { accounts: engine.account_views() },
        Request::Settings => Response::Settings { settings: engine.settings(host.demo) },
        Request::SaveAccount { draft, replacing, api_secret, pin } => {
            match engine.save_account(&draft, replacing.as_deref(), api_secret, pin).await {
                Ok(()) => done("saved"),
                Err(e) => edit_failed(e),
            }
        }
        Request::DeleteAccount { account } => {
            engine.delete_account(&account).map_or_else(edit_failed, |()| done("removed"))
        }
        Request::SaveThresholds { orange, red } => {
            engine.save_thresholds(&orange, &red).map_or_else(edit_failed, |()| done("saved"))
        }
        Request::History => Response::History { entries: engine.history() },
        // Served as a stream by `connection`.
        Request::Subscribe => Response::Unsupported { message: "subscribe on a connection of its own".to_owned() },
        Request::Token { account } => match engine.current_token(&account).await {
            Ok(tokens) => Response::Token {
                access_token: tokens.access_token.expose().to_owned(),
                feed_token: tokens.feed_token.as_ref().map(|t| t.expose().to_owned()),
            },
            Err(e) => failed(e),
        },
    }
}

/// Sends one request to the running TokenTray, if there is one.
pub async fn request(data_dir: &Path, request: &Request) -> Option<Response> {
    request_with_progress(data_dir, request, |_| {}).await
}

/// Like [`request`], showing interim answers (`Started`) to `progress` as
/// they come; returns the final answer.
pub async fn request_with_progress(data_dir: &Path, request: &Request, progress: impl Fn(&str)) -> Option<Response> {
    let stream = UnixStream::connect(socket_path(data_dir)).await.ok()?;
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_string(request).expect("requests serialize");
    text.push('\n');
    write.write_all(text.as_bytes()).await.ok()?;
    let mut lines = BufReader::new(read).lines();
    loop {
        let line = lines.next_line().await.ok()??;
        match serde_json::from_str(&line).ok()? {
            Response::Started { message } => progress(&message),
            other => return Some(other),
        }
    }
}

/// Calls `on_change` with the account of every change the running TokenTray
/// reports (once at once, with no account, when subscribed), until it goes
/// away. `false` when none answered.
pub async fn follow_changes(data_dir: &Path, mut on_change: impl FnMut(&str)) -> bool {
    let Ok(stream) = UnixStream::connect(socket_path(data_dir)).await else { return false };
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_string(&Request::Subscribe).expect("requests serialize");
    text.push('\n');
    if write.write_all(text.as_bytes()).await.is_err() {
        return false;
    }
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Ok(Response::Changed { account }) = serde_json::from_str(&line) {
            on_change(&account);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_logged_without_its_secrets() {
        let draft = Box::new(AccountDraft { id: "fyers".into(), ..Default::default() });
        let (api_secret, pin) = (Some(Secret::new("s3cret")), Some(Secret::new("4321")));
        let request = Request::SaveAccount { draft, replacing: None, api_secret, pin };
        assert_eq!(describe(&request), "save account fyers");
        let debugged = format!("{request:?}");
        assert!(!debugged.contains("s3cret") && !debugged.contains("4321"), "{debugged}");
    }
}

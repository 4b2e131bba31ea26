//! Serving the control channel: each request carried onto the engine and
//! answered with the reply its type is paired with. A running tray or
//! daemon serves it; only one engine per data directory can.

use super::lines::LineReader;
use super::protocol::{call, line, Answer, Call, LoginProgress, PasteLine, Refusal, Request, Shown, MAX_LINE};
use super::transport::{self, BindError, Connection, Endpoint, Listener};
use crate::login::{LoginOptions, Pasted};
use crate::{Engine, Remedy};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

/// What the serving process can do besides the engine's work.
pub struct Host {
    /// Brings the window forward; `None` for the headless daemon.
    pub show: Option<Box<dyn Fn() + Send + Sync>>,
    /// Whether a login may open the browser here (the tray); a daemon has
    /// the client open it instead.
    pub opens_browser: bool,
    /// Whether the engine runs on the demo broker.
    pub demo: bool,
    /// Stops this process as its own stop would (the daemon's SIGTERM,
    /// the tray's Quit); asked for by `tokentray stop`.
    pub stop: Option<Box<dyn Fn() + Send + Sync>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "another TokenTray is already running here (it answers on {0}); stop it first: one engine per data directory"
    )]
    AlreadyRunning(PathBuf),
    #[error("control channel {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// The channel, bound and not yet answering: the one engine of this data
/// directory is this process's. Requests that come before
/// [`serve_claimed`] wait for it (a start-up's recovery runs first).
pub struct Claimed {
    listener: Listener,
}

/// Serves the control channel until the engine shuts down. Fails if another
/// process already serves it.
pub async fn serve(engine: Engine, host: Host) -> Result<tokio::task::JoinHandle<()>, ServeError> {
    let claimed = claim(&engine).await?;
    Ok(serve_claimed(claimed, engine, host))
}

/// Binds the control channel, or says which TokenTray already runs.
pub async fn claim(engine: &Engine) -> Result<Claimed, ServeError> {
    let path = transport::address(engine.data_dir(), Endpoint::Engine);
    let io = |source| ServeError::Io { path: path.clone(), source };
    tokentray_adapters::atomic::create_private_dir(engine.data_dir()).map_err(io)?;
    match transport::bind(engine.data_dir(), Endpoint::Engine).await {
        Ok(listener) => Ok(Claimed { listener }),
        Err(BindError::Taken) => Err(ServeError::AlreadyRunning(path)),
        Err(BindError::Failed(e)) => Err(io(e)),
    }
}

/// Answers the claimed channel until the engine stops.
pub fn serve_claimed(claimed: Claimed, engine: Engine, host: Host) -> tokio::task::JoinHandle<()> {
    let Claimed { listener } = claimed;
    let host = Arc::new(host);
    // The process that serves the channel is the one engine here: it keeps the history.
    engine.spawn_history();
    // And it follows the servers of `[[remote]]`, for every surface here.
    engine.follow_servers();
    let mut stopped = engine.stopped();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(connection) => {
                        let (engine, host) = (engine.clone(), host.clone());
                        tokio::spawn(async move { serve_connection(engine, host, connection).await });
                    }
                    // Out of file descriptors, most likely: give the ones in use
                    // time to close rather than spin.
                    Err(e) => {
                        tracing::warn!("control channel: cannot accept a connection: {e}");
                        tokio::time::sleep(ACCEPT_PAUSE).await;
                    }
                },
                _ = stopped.changed() => break,
            }
        }
        // Nobody is answered any more, but no other engine may start here
        // while this one's last refreshes and writes finish.
        let claim = listener.close();
        engine.work_finished(LAST_WORK).await;
        drop(claim);
    })
}

type Reader = LineReader<Box<dyn AsyncRead + Send + Unpin>>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// The longest the claim is kept for the last work after the engine stops.
const LAST_WORK: Duration = Duration::from_secs(60);
/// The wait after a failed accept before the next.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// How long a connection may wait between requests: a client sends its
/// request as soon as it connects; one that does not holds a task for nothing.
const IDLE: Duration = Duration::from_secs(60);
/// How long a client may take to read one line before it is taken for gone.
const CLIENT_PATIENCE: Duration = Duration::from_secs(10);

async fn serve_connection(engine: Engine, host: Arc<Host>, connection: Connection) {
    let Connection { read, mut write } = connection;
    let mut reader: Reader = LineReader::new(read, MAX_LINE);
    loop {
        let text = match tokio::time::timeout(IDLE, reader.next()).await {
            Ok(Ok(Some(text))) => text,
            Ok(Ok(None)) | Err(_) => break,
            Ok(Err(why)) => {
                // The rest of an oversized line cannot be told from the next request: hang up.
                let why = format!("bad request: {why}");
                told(&mut write, &Answer::<()>::Error(Refusal::other(why))).await;
                break;
            }
        };
        let request = match serde_json::from_str::<Request>(&text) {
            Ok(request) => request,
            Err(e) => {
                let why = format!("bad request ({e}); is the running TokenTray another version? restart it");
                if !told(&mut write, &Answer::<()>::Error(Refusal::other(why))).await {
                    break;
                }
                continue;
            }
        };
        tracing::info!("control request: {}", request.describe());
        if let Some(route) = super::remote_calls::route_of(&engine, &request) {
            let answer = match request {
                Request::Login(login) => {
                    return super::remote_calls::converse_login(
                        &engine,
                        host.opens_browser,
                        route,
                        login,
                        reader,
                        write,
                    )
                    .await
                }
                other => super::remote_calls::answer(&engine, &route, other).await,
            };
            if !told_line(&mut write, &answer).await {
                break;
            }
            continue;
        }
        let answer = match request {
            Request::Subscribe(c) => return subscribe(&engine, c.notices, reader, &mut write).await,
            Request::Login(login) => return converse_login(&engine, &host, login, reader, write).await,
            other => answer(&engine, &host, other).await,
        };
        if !told_line(&mut write, &answer).await {
            break;
        }
    }
}

/// The reply line to a request of type `C`: only `C::Reply` fits.
fn reply<C: Call>(_: &C, result: Result<C::Reply, Refusal>) -> String {
    match result {
        Ok(reply) => line(&Answer::Reply(reply)),
        Err(refusal) => line(&Answer::<C::Reply>::Error(refusal)),
    }
}

async fn answer(engine: &Engine, host: &Host, request: Request) -> String {
    match request {
        Request::Status(c) => reply(&c, Ok(engine.statuses())),
        Request::Servers(c) => reply(&c, Ok(engine.remotes().servers())),
        // A server's account arrives routed (`remote_calls`); this machine's, or every one.
        Request::Ready(c) => reply(&c, engine.ready_anywhere(c.account.as_deref()).await.map_err(Refusal::from)),
        Request::Show(c) => {
            let shown = match &host.show {
                Some(show) => {
                    show();
                    Shown::Window
                }
                None => Shown::Headless,
            };
            reply(&c, Ok(shown))
        }
        Request::Stop(c) => match &host.stop {
            Some(stop) => {
                stop();
                reply(&c, Ok(()))
            }
            None => reply(&c, Err(Refusal::other("this TokenTray stops from its own window"))),
        },
        Request::Refresh(c) => reply(&c, engine.refresh_or_check(&c.account).await.map_err(Refusal::from)),
        Request::Check(c) => reply(&c, engine.check(&c.account).await.map_err(Refusal::from)),
        Request::Logout(c) => reply(&c, engine.logout(&c.account).await.map_err(Refusal::from)),
        Request::Token(c) => {
            let handed = engine.current_token(&c.account).await.map(|t| super::HandedToken::from(&t));
            reply(&c, handed.map_err(Refusal::from))
        }
        Request::Accounts(c) => reply(&c, Ok(engine.account_views())),
        Request::Settings(c) => reply(&c, Ok(engine.settings(host.demo))),
        Request::History(c) => reply(&c, Ok(engine.history())),
        Request::SaveAccount(c) => {
            let call::SaveAccount { draft, replacing, api_secret, pin } = c.clone();
            let saved = engine.save_account(&draft, replacing.as_deref(), api_secret, pin).await;
            reply(&c, saved.map_err(|e| Refusal { remedy: e.remedy(), message: e.to_string() }))
        }
        Request::DeleteAccount(c) => {
            let deleted = engine.delete_account(&c.account);
            reply(&c, deleted.map_err(|e| Refusal { remedy: e.remedy(), message: e.to_string() }))
        }
        Request::SaveThresholds(c) => {
            let saved = engine.save_thresholds(&c.orange, &c.red);
            reply(&c, saved.map_err(|e| Refusal { remedy: e.remedy(), message: e.to_string() }))
        }
        Request::Snooze(c) => {
            // Out of range is as long as a snooze goes (the engine caps it).
            let span = c.seconds.map(|s| {
                i64::try_from(s).ok().and_then(tokentray_core::Span::try_seconds).unwrap_or(crate::MAX_SNOOZE)
            });
            reply(&c, engine.snooze(span).await.map_err(Refusal::from))
        }
        Request::PasteRedirect(c) => {
            let outcome = engine.paste_redirect(&c.account, c.url.expose().to_owned()).await;
            reply(&c, outcome.map_err(Refusal::from))
        }
        Request::SetSecret(c) => {
            let stored = match c.item {
                super::AccountSecret::ApiSecret => engine.set_api_secret(&c.account, c.secret.clone()).await,
                super::AccountSecret::Pin => engine.set_pin(&c.account, c.secret.clone()).await,
            };
            reply(&c, stored.and_then(|()| engine.status(&c.account)).map_err(Refusal::from))
        }
        Request::Adopt(c) => {
            let adopted = engine.adopt_changes(&c.account, c.new_credentials).await;
            reply(&c, adopted.map_err(Refusal::from))
        }
        // Conversations of their own (`serve_connection`).
        Request::Login(c) => reply(&c, Err(Refusal::other("a login is a conversation of its own"))),
        Request::Subscribe(_) => line(&Answer::<()>::Error(Refusal::other("subscribe on a connection of its own"))),
    }
}

/// The longest a client may have a login wait for its browser.
const LONGEST_LOGIN: Duration = Duration::from_secs(3600);

/// Runs a login for a client: the engine makes the attempt, receives the
/// callback or the address the client pastes, and stores the token; the
/// client hears how it goes. The login is a task of its own: a client that
/// goes away ends its wait for the browser, never an exchange or a store
/// under way.
async fn converse_login(engine: &Engine, host: &Host, login: call::Login, mut reader: Reader, mut write: Writer) {
    let account = login.account.clone();
    let opens_here = host.opens_browser && !login.no_browser && !login.relayed;
    let (progress, mut progressed) = mpsc::unbounded_channel::<LoginProgress>();
    let (paste_sender, pastes) = mpsc::channel::<Pasted>(4);
    let abandoned = Arc::new(Notify::new());
    let no_browser = login.no_browser;
    let options = LoginOptions {
        open_browser: opens_here,
        timeout: Duration::from_secs(login.timeout_secs).min(LONGEST_LOGIN),
        // This client takes a pasted address (or code); with the tray, its
        // window does too.
        pasted: Some(pastes),
        paste_from_window: opens_here,
        show_url: Box::new(move |url| {
            let step = match (opens_here, no_browser) {
                (true, _) => LoginProgress::BrowserOpened { paste_in_window: url.paste },
                (false, true) => LoginProgress::ShowUrl { url: url.authorize.clone() },
                (false, false) => LoginProgress::OpenBrowser {
                    url: url.first.clone(),
                    paste: url.paste,
                    catch_at: url.catch_at.clone(),
                },
            };
            let _ = progress.send(step);
        }),
        abandoned: Some(abandoned.clone()),
        relayed: login.relayed,
    };
    let running = engine.clone();
    let mut login_task = tokio::spawn(async move { running.login(&account, options).await });
    let (refused, mut refusals) = mpsc::unbounded_channel::<String>();
    // Whether the client still sends (pastes) and still reads (progress, the
    // answer). One that hangs up, or stops reading, ends the wait for its
    // browser; the login's exchange and store go on. One that only closes
    // its sending side still hears how the login ended.
    let (mut reading, mut present) = (true, true);
    let result = loop {
        tokio::select! {
            result = &mut login_task => break result,
            Some(step) = progressed.recv() => {
                // The client that asked takes the paste (or code): the window
                // is not pushed in front of it; its field takes one too if open.
                if present && !told(&mut write, &Answer::<()>::Progress(step)).await {
                    (reading, present) = (false, false);
                    abandoned.notify_one();
                }
            }
            Some(why) = refusals.recv() => {
                if present && !told(&mut write, &Answer::<()>::Progress(LoginProgress::PasteRefused { why })).await {
                    (reading, present) = (false, false);
                    abandoned.notify_one();
                }
            }
            text = reader.next(), if reading => match text {
                Ok(Some(text)) => match serde_json::from_str::<PasteLine>(&text) {
                    Ok(PasteLine { paste }) => {
                        let (reply, outcome) = tokio::sync::oneshot::channel();
                        let pasted = Pasted { line: paste.expose().to_owned(), reply: Some(reply) };
                        match paste_sender.try_send(pasted) {
                            Ok(()) => {
                                let refused = refused.clone();
                                tokio::spawn(async move {
                                    if let Some(why) = outcome.await.ok().and_then(|o| o.refusal()) {
                                        let _ = refused.send(why);
                                    }
                                });
                            }
                            Err(mpsc::error::TrySendError::Full(_)) => {
                                let _ = refused.send("the login is busy with an earlier address; paste again".to_owned());
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => {
                                let _ = refused.send("this login takes the address in TokenTray's window".to_owned());
                            }
                        }
                    }
                    Err(_) => {
                        let _ = refused.send("not a pasted address; this login takes nothing else".to_owned());
                    }
                },
                // The client went away: nobody completes this login's browser step now.
                Ok(None) | Err(_) => {
                    reading = false;
                    abandoned.notify_one();
                }
            },
        }
    };
    let answer = match result {
        Ok(Ok(outcome)) => Answer::Reply(outcome.status),
        Ok(Err(e)) => Answer::Error(Refusal { remedy: e.remedy(), message: e.to_string() }),
        Err(e) => Answer::Error(Refusal { remedy: Remedy::Retry, message: format!("the login stopped: {e}") }),
    };
    if present {
        told(&mut write, &answer).await;
    }
}

/// Tells the client of every change (and, if it asked, every notice) until
/// it hangs up (noticed at once, not at the next change), stops reading, or
/// the engine stops.
async fn subscribe(engine: &Engine, notices: bool, mut reader: Reader, write: &mut Writer) {
    let mut events = engine.subscribe();
    let mut told = engine.subscribe_notices();
    let mut stopped = engine.stopped();
    // Answered at once: the client knows it is subscribed.
    let mut next = Answer::<()>::Changed(String::new());
    loop {
        if !told_line(write, &line(&next)).await {
            return;
        }
        next = tokio::select! {
            event = events.recv() => match event {
                Ok(e) => Answer::Changed(e.account),
                // Fell behind: whatever it missed, a change it is.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Answer::Changed(String::new()),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            notice = told.recv(), if notices => match notice {
                Ok(n) => Answer::Noticed(n),
                // Notices missed are missed; the statuses that follow tell what is true.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Answer::Changed(String::new()),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            // The client sends nothing more: anything read, or the end, means it is gone.
            _ = reader.more_or_end() => return,
            _ = stopped.changed() => return,
        };
    }
}

/// Sends `answer` unless the client is gone or has not read for
/// `CLIENT_PATIENCE`; says whether it was sent.
async fn told(write: &mut Writer, answer: &impl serde::Serialize) -> bool {
    told_line(write, &line(answer)).await
}

async fn told_line(write: &mut Writer, text: &str) -> bool {
    matches!(tokio::time::timeout(CLIENT_PATIENCE, write.write_all(text.as_bytes())).await, Ok(Ok(())))
}

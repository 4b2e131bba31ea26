//! Requests about a server's account (`ACCOUNT@SERVER`) that come to this
//! desktop's control channel (the tray's menu, the window, the CLI while a
//! tray or daemon runs here): carried over the followed session. Its token
//! stays on the server unless the config lets it be copied.

use super::lines::LineReader;
use super::protocol::{call, line, Answer, Call, LoginProgress, PasteLine, Refusal, Request};
use crate::remote::{RemoteError, Route};
use crate::Engine;
use tokentray_adapters::Secret;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

type Reader = LineReader<Box<dyn AsyncRead + Send + Unpin>>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

impl From<RemoteError> for Refusal {
    fn from(e: RemoteError) -> Self {
        Self { remedy: e.remedy(), message: e.to_string() }
    }
}

/// The route of a request about a server's account; `None` for this machine's.
pub(super) fn route_of(engine: &Engine, request: &Request) -> Option<Route> {
    let account = match request {
        Request::Login(c) => &c.account,
        Request::Refresh(c) => &c.account,
        Request::Check(c) => &c.account,
        Request::Logout(c) => &c.account,
        Request::Token(c) => &c.account,
        Request::Ready(call::Ready { account: Some(account) }) => account,
        _ => return None,
    };
    Route::of(&engine.config(), account)
}

fn reply<C: Call>(_: &C, result: Result<C::Reply, RemoteError>) -> String {
    match result {
        Ok(reply) => line(&Answer::Reply(reply)),
        Err(e) => line(&Answer::<C::Reply>::Error(e.into())),
    }
}

/// Answers a plain request about a server's account.
pub(super) async fn answer(engine: &Engine, route: &Route, request: Request) -> String {
    let account = route.account.clone();
    let shown = |status| crate::remote::shown_alone(&route.remote, status, engine.now());
    match request {
        Request::Refresh(c) => reply(&c, engine.ask_server(route, call::Refresh { account }).await.map(shown)),
        Request::Check(c) => reply(&c, engine.ask_server(route, call::Check { account }).await.map(shown)),
        Request::Logout(c) => reply(&c, engine.ask_server(route, call::Logout { account }).await),
        Request::Token(c) => {
            let token = match route.token_allowed() {
                Ok(()) => engine.ask_server(route, call::Token { account }).await,
                Err(e) => Err(e),
            };
            reply(&c, token)
        }
        Request::Ready(c) => reply(&c, engine.ready_on_server(route).await),
        other => line(&Answer::<()>::Error(Refusal::other(format!("`{}` is not for a server", other.describe())))),
    }
}

/// A server's login asked for here: the server makes it, this machine opens
/// the browser (the tray) or its client does (the CLI, through a daemon),
/// and the redirect is caught here or pasted by the client.
pub(super) async fn converse_login(
    engine: &Engine,
    opens_browser: bool,
    route: Route,
    login: call::Login,
    mut reader: Reader,
    mut write: Writer,
) {
    let link = match engine.server_link(&route).await {
        Ok(link) => link,
        Err(e) => {
            let _ = write.write_all(line(&Answer::<()>::Error(e.into())).as_bytes()).await;
            return;
        }
    };
    let (paste, pasted) = mpsc::channel::<Secret>(4);
    let (progress, mut progressed) = mpsc::unbounded_channel::<LoginProgress>();
    let opens_here = opens_browser && !login.no_browser;
    let on_progress = move |step: &LoginProgress| {
        let step = match step {
            LoginProgress::OpenBrowser { url, paste, .. } if opens_here => {
                if let Err(e) = crate::open_in_browser(url.as_str()) {
                    tracing::warn!("{e}");
                }
                // Pasted by the client, if it is needed.
                if *paste {
                    step.clone()
                } else {
                    LoginProgress::BrowserOpened { paste_in_window: false }
                }
            }
            other => other.clone(),
        };
        let _ = progress.send(step);
    };
    let timeout = login.timeout_secs;
    let account = route.account.clone();
    let run = crate::remote::log_in(&link, &account, timeout, on_progress, pasted);
    tokio::pin!(run);
    let result = loop {
        tokio::select! {
            result = &mut run => break result,
            Some(step) = progressed.recv() => {
                let _ = write.write_all(line(&Answer::<()>::Progress(step)).as_bytes()).await;
            }
            text = reader.next() => match text {
                Ok(Some(text)) => {
                    if let Ok(PasteLine { paste: p }) = serde_json::from_str::<PasteLine>(&text) {
                        let _ = paste.try_send(p);
                    }
                }
                // The client went away: the server's login ends with this call.
                Ok(None) | Err(_) => return,
            },
        }
    };
    while let Ok(step) = progressed.try_recv() {
        let _ = write.write_all(line(&Answer::<()>::Progress(step)).as_bytes()).await;
    }
    let answer = match result {
        Ok(status) => Answer::Reply(crate::remote::shown_alone(&route.remote, status, engine.now())),
        Err(e) => Answer::Error(e.into()),
    };
    let _ = write.write_all(line(&answer).as_bytes()).await;
}

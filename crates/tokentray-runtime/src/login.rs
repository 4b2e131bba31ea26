//! One-click login: open the authorize URL in the system browser, receive the
//! redirect on a loopback callback server (bound only while the login runs),
//! check `state`, take the code once, exchange it, store the token, and show
//! the browser a page that says how it went.

use crate::{open_in_browser, AccountStatus, BrowserError, Engine, EngineError};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokentray_adapters::config::AccountConfig;
use tokentray_adapters::provider::CallbackError;
use tokentray_core::Event;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Notify};
use url::Url;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The path a newer login (from another process) posts to, to take the port over.
const CANCEL_PATH: &str = "/.tokentray/cancel";
/// A custom header: a web page cannot send it without a CORS preflight we never
/// answer, so only a local program can cancel a login.
const CANCEL_HEADER: &str = "x-tokentray-cancel";

pub struct LoginOptions {
    /// Open the system browser; otherwise the URL is only handed to `show_url`.
    pub open_browser: bool,
    pub timeout: Duration,
    /// Redirected URLs pasted by the user (`--no-browser`), one per message.
    pub pasted: Option<mpsc::Receiver<String>>,
    /// Shows the authorize URL to the user (printed, or put in the window).
    pub show_url: Box<dyn Fn(&Url) + Send + Sync>,
}

impl Default for LoginOptions {
    fn default() -> Self {
        Self { open_browser: true, timeout: DEFAULT_TIMEOUT, pasted: None, show_url: Box::new(|_| {}) }
    }
}

impl LoginOptions {
    /// Opens the authorize URL with an HTTP client instead of a browser and
    /// follows the redirects to the callback: for a provider that approves by
    /// itself (the sandbox in the demo and in tests).
    pub fn following_redirects() -> Self {
        Self {
            open_browser: false,
            show_url: Box::new(|url| {
                let url = url.clone();
                tokio::spawn(async move {
                    if let Err(e) = reqwest::get(url).await {
                        tracing::warn!("following the login redirects failed: {e}");
                    }
                });
            }),
            ..Self::default()
        }
    }
}

/// A completed login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub status: AccountStatus,
    /// From the callback's arrival to the token stored (exchange included).
    pub callback_to_stored: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("{account}: nobody completed the login within {}s; run `tokentray login {account}` again", .waited.as_secs())]
    TimedOut { account: String, waited: Duration },
    #[error("{0}: a newer login for this account replaced this one")]
    Replaced(String),
    #[error("{account}: the login was refused ({reason}); nothing changed")]
    Denied { account: String, reason: String },
    #[error(
        "{account}: cannot listen for the callback on {addr} ({source}); is another program using the port? \
         Run `tokentray login {account} --no-browser` and paste the URL the browser lands on"
    )]
    Bind { account: String, addr: SocketAddr, source: std::io::Error },
    #[error(
        "{account}: redirect_uri {uri} is not a loopback http:// URL, so TokenTray cannot receive the callback; \
         run `tokentray login {account} --no-browser` and paste the URL the browser lands on"
    )]
    NotLoopback { account: String, uri: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Browser(#[from] BrowserError),
}

impl LoginError {
    /// What fixes it: most login failures are fixed by trying again.
    pub fn remedy(&self) -> crate::Remedy {
        match self {
            Self::Engine(e) => e.remedy(),
            Self::Denied { .. } | Self::TimedOut { .. } | Self::Replaced(_) => crate::Remedy::Login,
            Self::Bind { .. } | Self::NotLoopback { .. } | Self::Browser(_) => crate::Remedy::Other,
        }
    }
}

/// A callback the server received, waiting for the page to answer with.
struct Callback {
    query: HashMap<String, String>,
    reply: Option<oneshot::Sender<Page>>,
}

struct Page {
    status: StatusCode,
    title: String,
    text: String,
}

impl Page {
    fn new(status: StatusCode, title: &str, text: impl Into<String>) -> Self {
        Self { status, title: title.to_owned(), text: text.into() }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let colour = if self.status.is_success() { "#2ea043" } else { "#d63031" };
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>TokenTray: {t}</title>\
             <style>body{{font:16px system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}\
             h1{{color:{colour}}}</style></head><body><h1>{t}</h1><p>{x}</p></body></html>",
            t = escape(&self.title),
            x = escape(&self.text),
        );
        let mut response = (self.status, Html(body)).into_response();
        response.headers_mut().insert("cache-control", "no-store".parse().expect("valid header"));
        response.headers_mut().insert("referrer-policy", "no-referrer".parse().expect("valid header"));
        response
    }
}

#[derive(Clone)]
struct ServerState {
    path: String,
    account: String,
    callbacks: mpsc::Sender<Callback>,
    cancel: Arc<tokio::sync::Notify>,
}

async fn on_request(
    State(state): State<ServerState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: axum::http::Method,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !peer_allowed(peer.ip()) {
        return Page::new(StatusCode::FORBIDDEN, "Refused", "Logins are only accepted from this machine.")
            .into_response();
    }
    if uri.path() == CANCEL_PATH && method == axum::http::Method::POST {
        if headers.get(CANCEL_HEADER).and_then(|v| v.to_str().ok()) == Some(state.account.as_str()) {
            state.cancel.notify_one();
            return StatusCode::NO_CONTENT.into_response();
        }
        return StatusCode::FORBIDDEN.into_response();
    }
    if method != axum::http::Method::GET || uri.path() != state.path {
        return Page::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "This is TokenTray's login callback; nothing else is here.",
        )
        .into_response();
    }
    let (reply, page) = oneshot::channel();
    if state.callbacks.send(Callback { query, reply: Some(reply) }).await.is_err() {
        return Page::new(StatusCode::GONE, "Login over", "This login has ended. Start a new one from TokenTray.")
            .into_response();
    }
    match tokio::time::timeout(Duration::from_secs(120), page).await {
        Ok(Ok(page)) => page.into_response(),
        _ => Page::new(StatusCode::GONE, "Login over", "This login has ended. Start a new one from TokenTray.")
            .into_response(),
    }
}

/// Only this machine may deliver a login code. The server is bound to a
/// loopback address already; this refuses anything else that reaches it.
fn peer_allowed(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        IpAddr::V4(v4) => v4.is_loopback(),
    }
}

/// Where to listen for `redirect_uri`, if it is a loopback http URL.
pub fn callback_addr(redirect_uri: &Url) -> Option<SocketAddr> {
    if redirect_uri.scheme() != "http" {
        return None;
    }
    let ip = match redirect_uri.host()? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        url::Host::Domain(_) => return None,
    };
    ip.is_loopback().then(|| SocketAddr::new(ip, redirect_uri.port_or_known_default().unwrap_or(80)))
}

async fn bind(account: &AccountConfig, addr: SocketAddr) -> Result<TcpListener, LoginError> {
    let started = Instant::now();
    let mut asked_to_leave = false;
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && started.elapsed() < Duration::from_secs(3) => {
                if !asked_to_leave {
                    // Perhaps an older login (another TokenTray process) holds the port: replace it.
                    asked_to_leave = true;
                    let _ = reqwest::Client::new()
                        .post(format!("http://{addr}{CANCEL_PATH}"))
                        .header(CANCEL_HEADER, &account.id)
                        .timeout(Duration::from_secs(2))
                        .send()
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(source) => return Err(LoginError::Bind { account: account.id.clone(), addr, source }),
        }
    }
}

impl Engine {
    /// Runs a login for `id` to the end: a new token stored, or an error that
    /// says what to do. A newer login for the same account replaces this one.
    pub async fn login(&self, id: &str, mut options: LoginOptions) -> Result<LoginOutcome, LoginError> {
        let client = self.client(id)?;
        let account = client.account().clone();
        let secret = self.api_secret(&account).await?;
        let cancel = self.login_slot(id)?;
        // Opened before the exchange, so the grant is on disk within a millisecond of its arrival.
        let journal = self.journal().await;
        let mut server: Option<CallbackServer> = None;
        let result = async {
            let attempt = client.begin_login();
            let (callbacks_tx, mut callbacks) = mpsc::channel::<Callback>(8);
            server = match callback_addr(&account.redirect_uri) {
                Some(addr) => {
                    let listener = bind(&account, addr).await?;
                    let state = ServerState {
                        path: account.redirect_uri.path().to_owned(),
                        account: account.id.clone(),
                        callbacks: callbacks_tx.clone(),
                        cancel: cancel.clone(),
                    };
                    let app = Router::new().fallback(on_request).with_state(state);
                    Some(CallbackServer::start(listener, app))
                }
                None if options.pasted.is_some() => None,
                None => {
                    return Err(LoginError::NotLoopback {
                        account: account.id.clone(),
                        uri: account.redirect_uri.to_string(),
                    })
                }
            };
            (options.show_url)(&attempt.url);
            if options.open_browser {
                open_in_browser(attempt.url.as_str())?;
            }
            let deadline = tokio::time::Instant::now() + options.timeout;
            loop {
                let callback = tokio::select! {
                    Some(cb) = callbacks.recv() => cb,
                    Some(line) = recv_pasted(&mut options.pasted) => match pasted_query(&line) {
                        Some(query) => Callback { query, reply: None },
                        None => {
                            tracing::warn!("that is not the URL the browser landed on; paste the whole address");
                            continue;
                        }
                    },
                    _ = tokio::time::sleep_until(deadline) => {
                        return Err(LoginError::TimedOut { account: account.id.clone(), waited: options.timeout });
                    }
                    _ = cancel.notified() => return Err(LoginError::Replaced(account.id.clone())),
                };
                let arrived = Instant::now();
                let reply = |page: Page| {
                    if let Some(r) = callback.reply {
                        let _ = r.send(page);
                    }
                };
                let code = match client.read_callback(&callback.query, &attempt) {
                    Ok(code) => code,
                    Err(CallbackError::Denied(reason)) => {
                        reply(Page::new(StatusCode::BAD_REQUEST, "Login refused", format!("The provider said: {reason}. Nothing changed.")));
                        return Err(LoginError::Denied { account: account.id.clone(), reason });
                    }
                    Err(e @ (CallbackError::StateMismatch | CallbackError::Missing(_))) => {
                        tracing::warn!(account = %account.id, "refused a login callback: {e}");
                        reply(Page::new(StatusCode::BAD_REQUEST, "Refused", format!("{e}. Start the login again from TokenTray.")));
                        continue;
                    }
                };
                // The code is spent: while it is exchanged, a replayed callback is told so.
                let exchange = client.exchange(&code, &attempt, &secret, self.now());
                tokio::pin!(exchange);
                let exchanged = loop {
                    tokio::select! {
                        result = &mut exchange => break result,
                        Some(replay) = callbacks.recv() => {
                            if let Some(r) = replay.reply {
                                let _ = r.send(Page::new(StatusCode::CONFLICT, "Already used", "This login already received its code; a code works only once."));
                            }
                        }
                    }
                };
                let grant = match exchanged {
                    Ok(grant) => grant,
                    Err(e) => {
                        reply(Page::new(StatusCode::BAD_GATEWAY, "Login failed", format!("{e}")));
                        return Err(LoginError::Engine(e.into()));
                    }
                };
                self.journal_record(journal.as_deref(), id, &grant);
                let user = grant.user.user_id.clone();
                let (token, expires_at) = (grant.tokens.access_token.clone(), grant.meta.expires_at);
                let stored = match crate::lock::acquire(&self.lock_path(id), Duration::from_secs(60)).await {
                    Ok(_lock) => self.install(id, grant, Event::LoggedIn).await,
                    Err(e) => Err(e.into()),
                };
                let callback_to_stored = arrived.elapsed();
                if let Err(e) = stored {
                    reply(Page::new(StatusCode::INTERNAL_SERVER_ERROR, "Login incomplete", format!("The token arrived but could not be saved: {e}")));
                    return Err(e.into());
                }
                tracing::info!(account = %account.id, token = %token, expires_at = %expires_at, "logged in");
                // OAuth2 token responses do not say who logged in: the profile call does.
                let user = match user {
                    Some(u) => Some(u),
                    None if account.policy().validate_every.is_some() => {
                        self.validate(id).await.ok().and_then(|s| s.user_id)
                    }
                    None => None,
                };
                let who = user.map(|u| format!(" as {u}")).unwrap_or_default();
                reply(Page::new(StatusCode::OK, "Logged in", format!("{} is logged in{who}. You can close this tab.", account.label)));
                return Ok(LoginOutcome { status: self.status(id)?, callback_to_stored });
            }
        }
        .await;
        // The browser gets its page before the server goes away.
        if let Some(server) = server {
            server.close().await;
        }
        self.end_login(id, &cancel);
        result
    }
}

impl Engine {
    fn login_slot(&self, id: &str) -> Result<Arc<Notify>, EngineError> {
        let cancel = Arc::new(Notify::new());
        let previous = self.with_slot(id, |s| s.login.replace(cancel.clone()))?;
        if let Some(previous) = previous {
            previous.notify_one();
        }
        Ok(cancel)
    }

    fn end_login(&self, id: &str, mine: &Arc<Notify>) {
        let _ = self.with_slot(id, |s| {
            if s.login.as_ref().is_some_and(|l| Arc::ptr_eq(l, mine)) {
                s.login = None;
            }
        });
    }
}

/// The callback server of one login. Closing it lets a response in flight
/// (the "logged in" page) reach the browser before the port is released.
struct CallbackServer {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl CallbackServer {
    fn start(listener: TcpListener, app: Router) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self { stop: Some(stop), task }
    }

    async fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // A browser that keeps its connection open does not hold the port for long.
        if tokio::time::timeout(Duration::from_secs(2), &mut self.task).await.is_err() {
            self.task.abort();
        }
    }
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn recv_pasted(pasted: &mut Option<mpsc::Receiver<String>>) -> Option<String> {
    match pasted {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The query of a pasted redirect URL (or of a bare `?query`).
fn pasted_query(line: &str) -> Option<HashMap<String, String>> {
    let line = line.trim();
    let query = match Url::parse(line) {
        Ok(url) => url.query()?.to_owned(),
        Err(_) => line.strip_prefix('?')?.to_owned(),
    };
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    (!pairs.is_empty()).then_some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_redirects_get_a_callback_server() {
        let addr = |s: &str| callback_addr(&Url::parse(s).unwrap());
        assert_eq!(addr("http://127.0.0.1:5010/cb"), Some("127.0.0.1:5010".parse().unwrap()));
        assert_eq!(addr("http://localhost:5010/cb"), Some("127.0.0.1:5010".parse().unwrap()));
        assert_eq!(addr("http://[::1]:5010/cb"), Some("[::1]:5010".parse().unwrap()));
        assert_eq!(addr("https://127.0.0.1:8182"), None);
        assert_eq!(addr("http://example.com/cb"), None);
        assert_eq!(addr("http://192.168.1.5:5010/cb"), None);
    }

    #[test]
    fn only_loopback_peers_may_deliver_a_code() {
        for ok in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert!(peer_allowed(ok.parse().unwrap()), "{ok}");
        }
        for refused in ["192.168.1.20", "10.0.0.2", "::ffff:192.168.1.20", "fe80::1", "0.0.0.0"] {
            assert!(!peer_allowed(refused.parse().unwrap()), "{refused}");
        }
    }

    #[test]
    fn pasted_urls_and_queries_are_read() {
        let q = pasted_query("http://127.0.0.1:9/cb?code=abc&state=xyz\n").unwrap();
        assert_eq!((q["code"].as_str(), q["state"].as_str()), ("abc", "xyz"));
        assert_eq!(pasted_query("?request_token=t&status=success").unwrap()["request_token"], "t");
        assert!(pasted_query("hello").is_none());
        assert!(pasted_query("http://127.0.0.1:9/cb").is_none());
    }
}

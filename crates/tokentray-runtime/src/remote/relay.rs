//! The desktop's catcher for a server's login: the broker sends the browser
//! to the account's loopback redirect address, on this machine; a server
//! bound there only while the login runs takes the address and hands it to
//! the server's login, and shows the browser how that went. Like the local
//! callback it answers loopback peers and the redirect path only.

use crate::login::page::Page;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use url::Url;

/// How long a browser waits for the server to take its address.
const VERDICT_WITHIN: Duration = Duration::from_secs(120);
/// Addresses one login takes at most: a person's browser brings one or
/// two; a page firing requests at the port brings many.
const MOST_ARRIVALS: usize = 8;

/// What came of a caught address, for the browser's page.
#[derive(Debug, Clone)]
pub(crate) enum Caught {
    LoggedIn,
    /// The server's login did not take it; it still waits.
    Refused(String),
    /// The login ended without a token.
    Ended(String),
}

/// An address the browser brought, and where its verdict goes.
pub(crate) struct Arrival {
    pub url: String,
    pub verdict: oneshot::Sender<Caught>,
}

/// Bound while a server's login runs; closed when dropped.
pub(crate) struct Catcher {
    arrivals: mpsc::Receiver<Arrival>,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Catcher {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
    }
}

#[derive(Clone)]
struct Shared {
    at: Url,
    /// The login's `state` where its authorize URL carries one: an address
    /// with another is no redirect of this login's.
    state: Option<String>,
    arrivals: mpsc::Sender<Arrival>,
    taken: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Catcher {
    /// Binds the redirect's loopback address(es); `None` when it is not a
    /// loopback http address or cannot be bound (the address is pasted then).
    pub(crate) async fn bind(at: &Url, authorize: &Url) -> Option<Self> {
        if at.scheme() != "http" {
            return None;
        }
        let addrs = crate::login::callback_addrs(at)?;
        let (sender, arrivals) = mpsc::channel(4);
        let state = authorize.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned());
        let taken = std::sync::Arc::default();
        let shared = Shared { at: at.clone(), state, arrivals: sender, taken };
        let mut servers = Vec::new();
        for (i, addr) in addrs.iter().enumerate() {
            match TcpListener::bind(addr).await {
                Ok(listener) => {
                    let app = Router::new().fallback(on_request).with_state(shared.clone());
                    let service = app.into_make_service_with_connect_info::<SocketAddr>();
                    servers.push(tokio::spawn(async move {
                        let _ = axum::serve(listener, service).await;
                    }));
                }
                // A machine without IPv6 loopback: the IPv4 one serves. One
                // that is taken is not skipped: its holder would get the code.
                Err(e) if i > 0 && crate::plumbing::loopback::no_ipv6(&e) => {}
                Err(e) => {
                    tracing::warn!("cannot catch the login's redirect at {addr}: {e}; the address is pasted instead");
                    return None;
                }
            }
        }
        Some(Self { arrivals, servers })
    }

    pub(crate) async fn next(&mut self) -> Option<Arrival> {
        self.arrivals.recv().await
    }
}

async fn on_request(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: axum::http::Method,
    headers: axum::http::HeaderMap,
    uri: Uri,
) -> Response {
    let loopback = match peer.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    };
    if !loopback {
        return Page::new(StatusCode::FORBIDDEN, "Refused", "Logins are only accepted from this machine.")
            .into_response();
    }
    let path = shared.at.path();
    let is_redirect = uri.path() == path || uri.path().strip_suffix('/') == Some(path);
    if method != axum::http::Method::GET || !is_redirect {
        return StatusCode::NOT_FOUND.into_response();
    }
    // The browser names the redirect's own host (a page that rebinds a
    // name to 127.0.0.1 names its own).
    let expected =
        format!("{}:{}", shared.at.host_str().unwrap_or(""), shared.at.port_or_known_default().unwrap_or(80));
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let host_ok = host == expected || (shared.at.port().is_none() && Some(host) == shared.at.host_str());
    if !host_ok {
        return StatusCode::MISDIRECTED_REQUEST.into_response();
    }
    let mut url = shared.at.clone();
    url.set_path(uri.path());
    url.set_query(uri.query());
    // Another attempt's `state` is refused here; a redirect without one
    // (Dhan's) goes on, and the server's exchange tells.
    let brought = url.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned());
    if let (Some(state), Some(brought)) = (&shared.state, brought) {
        if &brought != state {
            return Page::new(StatusCode::BAD_REQUEST, "Not this login's", "Start the login again from TokenTray.")
                .into_response();
        }
    }
    if shared.taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= MOST_ARRIVALS {
        return Page::new(StatusCode::TOO_MANY_REQUESTS, "Too many", "Start the login again from TokenTray.")
            .into_response();
    }
    let (verdict, caught) = oneshot::channel();
    if shared.arrivals.send(Arrival { url: url.to_string(), verdict }).await.is_err() {
        return Page::new(StatusCode::GONE, "This login is over", "Start it again from TokenTray.").into_response();
    }
    match tokio::time::timeout(VERDICT_WITHIN, caught).await {
        Ok(Ok(Caught::LoggedIn)) => Page::new(
            StatusCode::OK,
            "Logged in",
            "The server has the new token and hands it to its bots. You can close this tab.",
        )
        .into_response(),
        Ok(Ok(Caught::Refused(why))) => Page::new(StatusCode::BAD_REQUEST, "Not taken", why).into_response(),
        Ok(Ok(Caught::Ended(why))) => Page::new(StatusCode::BAD_GATEWAY, "Login failed", why).into_response(),
        Ok(Err(_)) | Err(_) => Page::new(
            StatusCode::GATEWAY_TIMEOUT,
            "No answer from the server",
            "The server did not say whether it took the login. TokenTray shows whether it did.",
        )
        .into_response(),
    }
}

//! The loopback server that receives a login's redirect. It is bound to the
//! redirect URI's address only while the login runs, answers only loopback
//! peers and the redirect path, and lets a newer login (another process)
//! take the port over.

use super::inbox::{Callback, Reply};
use super::page::Page;
use super::LoginError;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokentray_adapters::callback_tls::CallbackCertificate;
use tokentray_adapters::config::AccountConfig;
use tokentray_adapters::Secret;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_rustls::TlsAcceptor;
use url::Url;

/// The path a newer login (from another process) posts to, to take the port over.
const CANCEL_PATH: &str = "/.tokentray/cancel";
/// The page an https login opens first: the browser's certificate warning
/// comes here, explained, and not in the middle of the provider's redirect.
pub(super) const START_PATH: &str = "/.tokentray/login";
/// Carries the handover key: a random value the running login keeps in the
/// private data directory, so that only a TokenTray process of this user can
/// cancel it (not another user, nor a web page that rebinds a name to 127.0.0.1).
const CANCEL_HEADER: &str = "x-tokentray-cancel";

#[derive(Clone)]
struct ServerState {
    path: String,
    callbacks: mpsc::Sender<Callback>,
    cancel: Arc<tokio::sync::Notify>,
    handover_key: Arc<Secret>,
    /// The provider's login page, for the start page of an https login.
    authorize: String,
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
        if headers.get(CANCEL_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|k| state.handover_key.matches(k)) {
            state.cancel.notify_one();
            return StatusCode::NO_CONTENT.into_response();
        }
        return StatusCode::FORBIDDEN.into_response();
    }
    if uri.path() == START_PATH && method == axum::http::Method::GET {
        let mut page = Page::new(
            StatusCode::OK,
            "Continue to the login",
            "Your browser warned about this page's certificate: TokenTray made it for 127.0.0.1 on this \
             computer, because the provider sends the login back here only over https. Nothing leaves this \
             computer through it. Accept it once (Advanced, then Proceed or Accept the risk), and the login \
             continues at the provider.",
        );
        page.next = Some(state.authorize.clone());
        return page.into_response();
    }
    // Dhan's documented redirect adds a `/` to the registered URL (`{redirect_URL}/?tokenId=`).
    let is_callback = uri.path() == state.path || uri.path().strip_suffix('/') == Some(state.path.as_str());
    if method != axum::http::Method::GET || !is_callback {
        return Page::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "This is TokenTray's login callback; nothing else is here.",
        )
        .into_response();
    }
    let (reply, page) = oneshot::channel();
    if state.callbacks.send(Callback { query, reply: Some(Reply::Browser(reply)) }).await.is_err() {
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

/// Where to listen for `redirect_uri`, if it is a loopback http or https
/// URL. A browser may resolve `localhost` to either loopback address, so
/// both are listened on: a code must not go to whoever sits on the other one.
pub fn callback_addrs(redirect_uri: &Url) -> Option<Vec<SocketAddr>> {
    if !matches!(redirect_uri.scheme(), "http" | "https") {
        return None;
    }
    let port = redirect_uri.port_or_known_default().unwrap_or(80);
    let ips = match redirect_uri.host()? {
        url::Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
        url::Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
        url::Host::Domain(name) if name.eq_ignore_ascii_case("localhost") => {
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)]
        }
        url::Host::Domain(_) => return None,
    };
    ips.iter().all(IpAddr::is_loopback).then(|| ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect())
}

/// Binds every address, or none. An IPv6 loopback this machine does not
/// have is skipped (nobody can listen there either); one that is taken
/// refuses the login, since its holder would receive the code.
async fn bind_all(
    account: &AccountConfig,
    addrs: &[SocketAddr],
    handover: &Path,
) -> Result<Vec<TcpListener>, LoginError> {
    let mut listeners = Vec::with_capacity(addrs.len());
    for (i, addr) in addrs.iter().enumerate() {
        match bind(account, *addr, handover).await {
            Ok(listener) => listeners.push(listener),
            Err(LoginError::Bind { source, .. })
                if i > 0 && addr.is_ipv6() && crate::plumbing::loopback::no_ipv6(&source) =>
            {
                tracing::debug!("no IPv6 loopback here; listening on {} only", addrs[0]);
            }
            Err(LoginError::Bind { addr, source, .. }) if addrs.len() > 1 => {
                return Err(LoginError::LocalhostTaken { account: account.id.clone(), addr, source });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(listeners)
}

async fn bind(account: &AccountConfig, addr: SocketAddr, handover: &Path) -> Result<TcpListener, LoginError> {
    let started = Instant::now();
    let mut asked_to_leave = false;
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && started.elapsed() < Duration::from_secs(3) => {
                if !asked_to_leave {
                    // Perhaps an older login (another TokenTray process) holds the port: replace it.
                    asked_to_leave = true;
                    if let Ok(key) = std::fs::read_to_string(handover) {
                        let _ = reqwest::Client::new()
                            .post(format!("http://{addr}{CANCEL_PATH}"))
                            .header(CANCEL_HEADER, key.trim())
                            .timeout(Duration::from_secs(2))
                            .send()
                            .await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(source) => return Err(LoginError::Bind { account: account.id.clone(), addr, source }),
        }
    }
}

/// The callback server of one login. Closing it lets a response in flight
/// (the "logged in" page) reach the browser before the port is released.
pub(super) struct CallbackServer {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl CallbackServer {
    /// Listens on `addrs` (taking the port over from an older login whose
    /// handover key is in the file `handover`, then leaving its own there)
    /// and passes every callback for `account`'s redirect path to `callbacks`.
    pub(super) async fn open(
        account: &AccountConfig,
        addrs: &[SocketAddr],
        handover: &Path,
        tls: Option<&CallbackCertificate>,
        authorize: &Url,
        callbacks: mpsc::Sender<Callback>,
        cancel: Arc<Notify>,
    ) -> Result<Self, LoginError> {
        let acceptor = match tls {
            Some(certificate) => Some(acceptor(certificate).map_err(|e| LoginError::Tls(e.to_string()))?),
            None => None,
        };
        let listeners = bind_all(account, addrs, handover).await?;
        let handover_key = Secret::random(32);
        if let Err(e) = tokentray_adapters::atomic::write_private(handover, handover_key.expose().as_bytes()) {
            tracing::warn!("cannot leave the login's handover key ({e}); a newer login will wait for this one to end");
        }
        let state = ServerState {
            path: account.redirect_uri.path().to_owned(),
            callbacks,
            cancel,
            handover_key: Arc::new(handover_key),
            authorize: authorize.to_string(),
        };
        Ok(Self::start(listeners, Router::new().fallback(on_request).with_state(state), acceptor))
    }

    fn start(listeners: Vec<TcpListener>, app: Router, tls: Option<TlsAcceptor>) -> Self {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tasks = listeners
            .into_iter()
            .map(|listener| {
                let (app, stopped, tls) = (app.clone(), stopped.clone(), tls.clone());
                tokio::spawn(serve(listener, app, tls, stopped))
            })
            .collect();
        Self { stop, tasks }
    }

    pub(super) async fn close(mut self) {
        let _ = self.stop.send(true);
        // A browser that keeps its connection open does not hold the port for long.
        for task in &mut self.tasks {
            if tokio::time::timeout(Duration::from_secs(2), &mut *task).await.is_err() {
                task.abort();
            }
        }
    }
}

/// The TLS side of [`CallbackCertificate`]: rustls with the ring provider.
fn acceptor(certificate: &CallbackCertificate) -> Result<TlsAcceptor, Box<dyn std::error::Error>> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![CertificateDer::from_pem_slice(certificate.cert_pem.as_bytes())?];
    let key = PrivateKeyDer::from_pem_slice(certificate.key_pem.as_bytes())?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves the callback (over TLS when `tls` is given) until the login ends,
/// then lets each connection finish what it is answering (the "logged in"
/// page) and returns once they all closed: the browser gets its page before
/// the process goes on, or ends.
async fn serve(listener: TcpListener, app: Router, tls: Option<TlsAcceptor>, mut stopped: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let app = app.clone().layer(axum::Extension(ConnectInfo(peer)));
                let (tls, stopped) = (tls.clone(), stopped.clone());
                connections.spawn(async move {
                    let Some(acceptor) = tls else { return serve_connection(stream, app, stopped).await };
                    // A browser that dropped the handshake after its warning must not hold the task.
                    if let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        serve_connection(stream, app, stopped).await;
                    }
                });
            }
            // Connections that ended are let go of as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stopped.changed() => break,
        }
    }
    while connections.join_next().await.is_some() {}
}

/// How long a TLS handshake, or a request's headers, may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve_connection<S>(stream: S, app: Router, mut stopped: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_and_https_redirects_get_a_callback_server() {
        let addrs = |s: &str| callback_addrs(&Url::parse(s).unwrap());
        let at = |list: &[&str]| Some(list.iter().map(|a| a.parse().unwrap()).collect::<Vec<SocketAddr>>());
        assert_eq!(addrs("http://127.0.0.1:5010/cb"), at(&["127.0.0.1:5010"]));
        assert_eq!(addrs("http://localhost:5010/cb"), at(&["127.0.0.1:5010", "[::1]:5010"]), "both loopbacks");
        assert_eq!(addrs("http://LocalHost:5010/cb"), at(&["127.0.0.1:5010", "[::1]:5010"]));
        assert_eq!(addrs("http://[::1]:5010/cb"), at(&["[::1]:5010"]));
        assert_eq!(addrs("https://127.0.0.1:8182"), at(&["127.0.0.1:8182"]), "Schwab's https, over TLS");
        assert_eq!(addrs("ftp://127.0.0.1:21/cb"), None);
        assert_eq!(addrs("http://example.com/cb"), None);
        assert_eq!(addrs("http://192.168.1.5:5010/cb"), None);
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
}

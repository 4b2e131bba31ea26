//! A broker on loopback: speaks the Kite Connect v3, Upstox v2 (its
//! read-only tokens too), OAuth2 (Schwab-style), Fyers v3, Dhan v2, Angel
//! One SmartAPI, Tastytrade, E*TRADE, ICICI Breeze and IBKR's Client
//! Portal gateway protocols as
//! their public sources describe them (each adapter in
//! `tokentray-adapters/src/provider/` names its sources, `docs/providers/`
//! the newer ones), and refuses what the real APIs refuse (a wrong checksum
//! or `appIdHash`, a missing header, a reused code, a bad PKCE verifier).
//!
//! Tests and the demo start it with [`Sandbox::start`]; tests then switch
//! faults on per endpoint ([`Sandbox::inject`]), expire or revoke tokens, and
//! assert on the exact requests it received ([`Sandbox::requests`]).

// Handlers bail out with a ready `Response` as their error; it is built once per request.
#![allow(clippy::result_large_err)]

mod admin;
mod angelone;
mod authorize;
mod breeze;
mod broker;
mod dhan;
mod etrade;
mod fault;
mod fyers;
mod ibkr;
mod ist;
mod kite;
mod oauth2;
mod record;
mod registry;
mod reply;
mod static_ip;
mod tastytrade;
mod upstox;

pub use fault::{Endpoint, Fault, HOSTILE_TOKEN};
pub use record::RecordedRequest;
pub use registry::{App, SandboxConfig};
pub use tokentray_core::ProviderKind;

use axum::Router;
use broker::Broker;
use registry::Registry;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Every broker the sandbox emulates: the one line a new broker adds here.
pub(crate) static BROKERS: &[&dyn Broker] = &[
    &kite::Kite,
    &upstox::Upstox,
    &oauth2::OAuth2,
    &fyers::Fyers,
    &dhan::Dhan,
    &angelone::AngelOne,
    &tastytrade::Tastytrade,
    &etrade::Etrade,
    &breeze::Breeze,
    &ibkr::Ibkr,
];

/// The broker whose endpoint `endpoint` is.
pub(crate) fn broker_of(endpoint: Endpoint) -> &'static dyn Broker {
    *BROKERS.iter().find(|b| b.endpoints().contains(&endpoint)).expect("every endpoint is a broker's")
}

/// Everything the handlers share: what was issued, what was received, what to break.
pub(crate) struct Shared {
    pub config: SandboxConfig,
    pub registry: Mutex<Registry>,
    pub faults: Mutex<fault::FaultBook>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub auto_approve: std::sync::atomic::AtomicBool,
    /// How many requests [`Fault::Held`] has held so far.
    pub held: tokio::sync::watch::Sender<u32>,
    /// One permit lets one held request go.
    pub releases: tokio::sync::Semaphore,
    /// The static IPs registered per app, and the address the echo answers.
    pub static_ips: Mutex<static_ip::StaticIps>,
}

pub(crate) type AppState = Arc<Shared>;

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    addr: SocketAddr,
    shared: AppState,
    stop: Option<oneshot::Sender<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

impl Sandbox {
    /// Serves on `127.0.0.1` on a free port.
    pub async fn start(config: SandboxConfig) -> Result<Self, SandboxError> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    pub async fn start_on(addr: SocketAddr, config: SandboxConfig) -> Result<Self, SandboxError> {
        let listener = TcpListener::bind(addr).await.map_err(|source| SandboxError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind { addr, source })?;
        let shared = Arc::new(Shared {
            auto_approve: std::sync::atomic::AtomicBool::new(config.auto_approve),
            config,
            registry: Mutex::new(Registry::default()),
            faults: Mutex::new(fault::FaultBook::default()),
            requests: Mutex::new(Vec::new()),
            held: tokio::sync::watch::Sender::new(0),
            releases: tokio::sync::Semaphore::new(0),
            static_ips: Mutex::new(static_ip::StaticIps::default()),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(shared.clone());
        tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = served.await {
                tracing::error!("sandbox server failed: {e}");
            }
        });
        tracing::info!("sandbox broker listening on http://{addr}");
        Ok(Self { addr, shared, stop: Some(stop) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`: every provider's API and
    /// login base points here.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The endpoint lines of an `[account.oauth2]` table that points a
    /// generic OAuth2 account at this sandbox.
    pub fn oauth2_endpoints_toml(&self) -> String {
        let base = self.url();
        format!(
            "authorize_url = \"{base}/v1/oauth/authorize\"\n\
             token_url = \"{base}/v1/oauth/token\"\n\
             profile_url = \"{base}/v1/userinfo\"\n\
             revocation_url = \"{base}/v1/oauth/revoke\"\n"
        )
    }

    /// The `[[account]]` table that points an account called `id` at `app`,
    /// as a user would write it.
    pub fn account_toml(&self, id: &str, app: &App) -> String {
        let described = app.provider.describe();
        let base = self.url();
        // A pasted token's "login" is the page that shows it: the console's.
        let login_base = match described.login {
            tokentray_core::provider::LoginShape::Typed(_) => format!("{base}/developer/apps"),
            _ => base.clone(),
        };
        let mut toml = format!("\n[[account]]\nid = \"{id}\"\nprovider = \"{}\"\n", described.id);
        if described.app_key {
            toml.push_str(&format!("api_key = \"{}\"\n", app.client_id));
        }
        // Where the broker never redirects (a pasted token, a gateway's page), none is written.
        if described.login.redirects() && app.redirect_uri.starts_with("http") {
            toml.push_str(&format!("redirect_uri = \"{}\"\n", app.redirect_uri));
        }
        toml.push_str(&format!("api_base = \"{base}\"\nlogin_base = \"{login_base}\"\n"));
        if described.user_id.is_some() {
            toml.push_str(&format!("user_id = \"{}\"\n", app.user_id));
        }
        if described.endpoints_in_config {
            toml.push_str(&format!("\n[account.oauth2]\n{}", self.oauth2_endpoints_toml()));
        }
        toml
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    /// The requests received for one path (no query string).
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    pub fn clear_requests(&self) {
        self.shared.requests.lock().expect("requests lock").clear();
    }

    /// Breaks `endpoint` in the way `fault` says, for the next `times` requests
    /// (`None`: until cleared).
    pub fn inject(&self, endpoint: Endpoint, fault: Fault, times: Option<u32>) {
        self.shared.faults.lock().expect("faults lock").add(endpoint, fault, times);
    }

    /// Waits until [`Fault::Held`] has held `count` requests in all.
    pub async fn wait_held(&self, count: u32) {
        let mut held = self.shared.held.subscribe();
        held.wait_for(|n| *n >= count).await.expect("the sandbox owns the sender");
    }

    /// Lets one held request go on.
    pub fn release_held(&self) {
        self.shared.releases.add_permits(1);
    }

    pub fn clear_faults(&self) {
        self.shared.faults.lock().expect("faults lock").clear();
    }

    /// Switches between redirecting straight back (tests, the demo's first
    /// logins) and showing the Approve page (a person trying the demo).
    pub fn set_auto_approve(&self, on: bool) {
        self.shared.auto_approve.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes every access token issued so far invalid, as the daily rollover does.
    pub fn expire_access_tokens(&self) {
        self.shared.registry.lock().expect("registry lock").expire_access_tokens();
    }

    /// Makes every refresh token issued so far invalid.
    pub fn revoke_refresh_tokens(&self) {
        self.shared.registry.lock().expect("registry lock").revoke_refresh_tokens();
    }

    /// Registers `primary` (and `secondary`) for the app `client_id`, as
    /// its developer console would, last changed at `changed_at`.
    pub fn register_static_ip(
        &self,
        client_id: &str,
        primary: &str,
        secondary: Option<&str>,
        changed_at: chrono::DateTime<chrono::Utc>,
    ) {
        let registered = static_ip::Registered {
            primary: Some(primary.to_owned()),
            secondary: secondary.map(str::to_owned),
            changed_at: Some(changed_at),
        };
        self.shared.static_ips.lock().expect("static ips lock").set(client_id, registered);
    }

    /// The address `/_sandbox/ip` says requests come from (this machine's egress, as an echo sees it).
    pub fn set_egress_ip(&self, ip: &str) {
        self.shared.static_ips.lock().expect("static ips lock").set_egress(ip);
    }

    /// The echo's address, for `[ready] echo`.
    pub fn echo_url(&self) -> String {
        format!("{}/_sandbox/ip", self.url())
    }

    /// An analytics token for the Upstox app `client_id`, as its developer
    /// console makes one (Analytics tab): a year long, read-only, and the
    /// app's only one (a new one revokes the last).
    pub fn make_upstox_analytics_token(&self, client_id: &str) -> String {
        let app = self.shared.config.app(upstox::KINDS, client_id).expect("an Upstox app of this sandbox");
        let token = upstox::issue_read_only(&self.shared, client_id, &app.user_id);
        let mut registry = self.shared.registry.lock().expect("registry lock");
        if let Some(old) = registry.analytics.insert(client_id.to_owned(), token.clone()) {
            registry.revoke_access(&old);
        }
        token
    }

    /// A login with the IBKR gateway's username elsewhere (TWS, IBKR Mobile,
    /// the website): the gateway's brokerage session becomes `competing`.
    pub fn ibkr_login_elsewhere(&self) {
        if let Some(s) = self.shared.registry.lock().expect("registry lock").ibkr.as_mut() {
            s.competing = true;
        }
    }

    /// The IBKR gateway's brokerage session times out while its login lives.
    pub fn ibkr_brokerage_timeout(&self) {
        if let Some(s) = self.shared.registry.lock().expect("registry lock").ibkr.as_mut() {
            s.brokerage = false;
        }
    }

    /// The access tokens currently accepted, newest last.
    pub fn live_access_tokens(&self) -> Vec<String> {
        self.shared.registry.lock().expect("registry lock").live_access_tokens()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn router(shared: AppState) -> Router {
    BROKERS
        .iter()
        .fold(Router::new(), |router, broker| router.merge(broker.routes()))
        .merge(admin::routes())
        .merge(static_ip::routes())
        .layer(axum::middleware::from_fn_with_state(shared.clone(), record::record))
        .with_state(shared)
}

//! The demo: the sandbox broker and two accounts with short lifetimes, so a
//! newcomer sees the whole cycle (refreshes, orange, red, expiry, a login)
//! within minutes, with no account of their own.
//!
//! - `demo-kite`: a Kite-style daily-login account whose token lives 6 minutes
//!   (orange at 4 minutes left, red at 2): it cannot be refreshed, so it
//!   expires and asks for a login.
//! - `demo-oauth`: an OAuth2 account with 2-minute access tokens, refreshed
//!   ahead of expiry, and a refresh token that stops after 10 minutes.

use crate::login::LoginOptions;
use crate::Engine;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokentray_adapters::config::{Config, ConfigError};
use tokentray_adapters::store::{PlaintextStore, SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig, SandboxError};

pub const KITE_ID: &str = "demo-kite";
pub const OAUTH_ID: &str = "demo-oauth";
const KITE_SECRET: &str = "demo-kite-secret";
const OAUTH_SECRET: &str = "demo-oauth-secret";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo directory {path}: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("a demo is already running from {0}; use that one, or stop it first")]
    Running(PathBuf),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] tokentray_adapters::store::StoreError),
}

/// A running demo broker and the config that points at it.
pub struct Demo {
    pub sandbox: Sandbox,
    pub config: Config,
    pub dir: PathBuf,
    /// Held for the demo's life: a second demo would empty this one's directory.
    _running: std::fs::File,
}

impl Demo {
    /// Starts the sandbox and writes a fresh demo config, data directory and
    /// (plaintext, fake) secrets under `dir`, which is emptied first.
    pub async fn start(dir: &Path) -> Result<Self, DemoError> {
        let io = |source| DemoError::Dir { path: dir.to_owned(), source };
        // Beside the directory, which is emptied below.
        if let Some(parent) = dir.parent() {
            tokentray_adapters::atomic::create_private_dir(parent).map_err(io)?;
        }
        let running = tokentray_adapters::atomic::open_private(&dir.with_extension("lock")).map_err(io)?;
        match running.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(DemoError::Running(dir.to_owned())),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        tokentray_adapters::atomic::create_private_dir(&Self::data_dir_in(dir)).map_err(io)?;
        let (kite_port, oauth_port) = (free_port().map_err(io)?, free_port().map_err(io)?);
        let kite_redirect = format!("http://127.0.0.1:{kite_port}/callback");
        let oauth_redirect = format!("http://127.0.0.1:{oauth_port}/callback");
        let sandbox = Sandbox::start(SandboxConfig {
            apps: vec![
                App {
                    access_ttl: Some(Duration::from_secs(6 * 60)),
                    ..App::new(ProviderKind::Kite, KITE_ID, KITE_SECRET, &kite_redirect, "DEMO01")
                },
                App {
                    access_ttl: Some(Duration::from_secs(120)),
                    ..App::new(ProviderKind::Schwab, OAUTH_ID, OAUTH_SECRET, &oauth_redirect, "DEMO02")
                },
            ],
            refresh_ttl: Duration::from_secs(10 * 60),
            auto_approve: false,
            ..SandboxConfig::default()
        })
        .await?;
        let (base, endpoints) = (sandbox.url(), sandbox.oauth2_endpoints_toml());
        let text = format!(
            r#"# TokenTray demo: two accounts on the built-in sandbox broker at {base}.
storage = "plaintext"
http_timeout = "5s"

[[account]]
id = "{KITE_ID}"
label = "Kite (demo)"
provider = "kite"
api_key = "{KITE_ID}"
redirect_uri = "{kite_redirect}"
api_base = "{base}"
login_base = "{base}"
token_lifetime = "6m"
validate_every = "1m"
[account.thresholds]
orange = "4m"
red = "2m"

[[account]]
id = "{OAUTH_ID}"
label = "OAuth2 (demo)"
provider = "oauth2"
api_key = "{OAUTH_ID}"
redirect_uri = "{oauth_redirect}"
validate_every = "1m"
[account.thresholds]
orange = "6m"
red = "3m"
[account.oauth2]
{endpoints}client_auth = "body"
refresh_limit = "10m"
"#
        );
        let path = dir.join("config.toml");
        tokentray_adapters::atomic::write(&path, text.as_bytes(), 0o600).map_err(io)?;
        let config = Config::load(&path)?;
        let store = PlaintextStore::new(dir.join("data").join("secrets.json"));
        store.set(KITE_ID, SecretItem::ApiSecret, &Secret::new(KITE_SECRET))?;
        store.set(OAUTH_ID, SecretItem::ApiSecret, &Secret::new(OAUTH_SECRET))?;
        Ok(Self { sandbox, config, dir: dir.to_owned(), _running: running })
    }

    pub fn data_dir(&self) -> PathBuf {
        Self::data_dir_in(&self.dir)
    }

    /// Where a demo started in `dir` keeps its data (known before it starts).
    pub fn data_dir_in(dir: &Path) -> PathBuf {
        dir.join("data")
    }

    pub fn store(&self) -> PlaintextStore {
        PlaintextStore::new(self.data_dir().join("secrets.json"))
    }

    /// An engine on the demo's config, data directory and store.
    pub fn engine(&self, notifier: std::sync::Arc<dyn crate::Notifier>) -> Result<Engine, crate::EngineError> {
        Engine::new(
            self.config.clone(),
            crate::EngineOptions {
                data_dir: self.data_dir(),
                store: std::sync::Arc::new(self.store()),
                clock: std::sync::Arc::new(crate::SystemClock),
                notifier,
            },
        )
    }

    /// Logs both accounts in without a person (the sandbox approves by
    /// itself for the moment), so the demo starts with live tokens.
    pub async fn log_in_everything(&self, engine: &Engine) -> Result<(), crate::login::LoginError> {
        self.sandbox.set_auto_approve(true);
        let result = async {
            for id in [KITE_ID, OAUTH_ID] {
                let options = LoginOptions::following_redirects();
                engine.login(id, options).await?;
            }
            Ok::<_, crate::login::LoginError>(())
        }
        .await;
        self.sandbox.set_auto_approve(false);
        result
    }
}

fn free_port() -> std::io::Result<u16> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?.local_addr().map(|a| a.port())
}

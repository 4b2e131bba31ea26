//! An engine over real files and a real sandbox on loopback.
#![allow(dead_code)]

mod refusing;
#[allow(unused_imports)]
pub use refusing::{refusing_engine, Seen};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokentray_adapters::config::Config;
use tokentray_adapters::store::{PlaintextStore, SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_runtime::{Clock, Engine, EngineOptions, LogNotifier, SystemClock};
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};

pub struct World {
    pub sandbox: Sandbox,
    pub dir: PathBuf,
    pub config: Config,
    pub kite_port: u16,
    pub oauth_port: u16,
}

#[allow(unused_imports)] // each test binary uses its own share of them
pub use tokentray_testkit::{eventually, free_port};

pub fn scratch(name: &str) -> PathBuf {
    tokentray_testkit::scratch(&format!("rt-{name}"))
}

/// A sandbox with a Kite app and a Schwab-style OAuth2 app (1800 s tokens),
/// a config pointing at it and api secrets in a plaintext store.
pub async fn world(name: &str, oauth_ttl: Option<std::time::Duration>) -> World {
    world_with_origin(name, oauth_ttl, "http://127.0.0.1").await
}

/// [`world`] with the OAuth2 account's redirect URI at `oauth_origin`
/// (`http://localhost`, `https://127.0.0.1`), on its own port.
pub async fn world_with_origin(name: &str, oauth_ttl: Option<std::time::Duration>, oauth_origin: &str) -> World {
    let dir = scratch(name);
    let (kite_port, oauth_port) = (free_port(), free_port());
    let sandbox = Sandbox::start(SandboxConfig {
        apps: vec![
            App::new(
                ProviderKind::Kite,
                "kitekey",
                "kitesecret",
                &format!("http://127.0.0.1:{kite_port}/kite/cb"),
                "AB1234",
            ),
            App {
                access_ttl: oauth_ttl,
                ..App::new(
                    ProviderKind::Schwab,
                    "oauthid",
                    "oauthsecret",
                    &format!("{oauth_origin}:{oauth_port}/cb"),
                    "OA1",
                )
            },
        ],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let base = sandbox.url();
    let text = format!(
        r#"
storage = "plaintext"
http_timeout = "3s"

[[account]]
id = "kite"
provider = "kite"
api_key = "kitekey"
redirect_uri = "http://127.0.0.1:{kite_port}/kite/cb"
api_base = "{base}"
login_base = "{base}"

[[account]]
id = "oauth"
provider = "schwab"
api_key = "oauthid"
redirect_uri = "{oauth_origin}:{oauth_port}/cb"
api_base = "{base}"
"#
    );
    std::fs::write(dir.join("config.toml"), &text).unwrap();
    let config = Config::load(&dir.join("config.toml")).unwrap();
    let store = store(&dir);
    store.set("kite", SecretItem::ApiSecret, &Secret::new("kitesecret")).unwrap();
    store.set("oauth", SecretItem::ApiSecret, &Secret::new("oauthsecret")).unwrap();
    World { sandbox, dir, config, kite_port, oauth_port }
}

pub fn store(dir: &Path) -> PlaintextStore {
    PlaintextStore::new(dir.join("data").join("secrets.json"))
}

impl World {
    pub fn engine(&self) -> Engine {
        self.engine_with(Arc::new(SystemClock))
    }

    pub fn engine_with(&self, clock: Arc<dyn Clock>) -> Engine {
        Self::engine_over(&self.config, &self.dir, clock)
    }

    /// An engine for `config` over the data and plaintext store in `dir`.
    pub fn engine_for(config: &Config, dir: &Path) -> Engine {
        Self::engine_over(config, dir, Arc::new(SystemClock))
    }

    fn engine_over(config: &Config, dir: &Path, clock: Arc<dyn Clock>) -> Engine {
        Engine::new(
            config.clone(),
            EngineOptions {
                data_dir: dir.join("data"),
                store: Arc::new(store(dir)),
                clock,
                notifier: Arc::new(LogNotifier),
            },
        )
        .unwrap()
    }
}

/// What a browser does with the authorize URL: follow redirects to the callback.
pub async fn browse(url: url::Url) -> reqwest::Response {
    reqwest::get(url).await.expect("the browser reaches the callback")
}

/// The callback URL the provider redirects to, without visiting it.
pub async fn callback_url(authorize: &url::Url) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http.get(authorize.clone()).send().await.unwrap();
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// Logs `id` in through the real flow, the test acting as the browser.
pub async fn log_in(engine: &Engine, id: &str) {
    engine.login(id, tokentray_runtime::login::LoginOptions::following_redirects()).await.unwrap();
}

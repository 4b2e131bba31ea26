//! A sandbox with one app per protocol, and accounts pointed at it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokentray_adapters::config::{AccountConfig, Config};
use tokentray_adapters::provider::{Credentials, Grant, LoginAttempt, ProviderClient};
use tokentray_adapters::Secret;
use tokentray_core::provider::LoginShape;
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};

pub const KITE_KEY: &str = "kitekey01";
pub const KITE_SECRET: &str = "kitesecret01";
pub const KITE_REFRESH_KEY: &str = "kitekey-platform";
pub const UPSTOX_KEY: &str = "upstox-client";
pub const UPSTOX_SECRET: &str = "upstox-secret";
pub const SCHWAB_KEY: &str = "schwab-app-key";
pub const SCHWAB_SECRET: &str = "schwab-app-secret";
pub const PKCE_KEY: &str = "generic-client";
pub const PKCE_SECRET: &str = "generic-secret";
pub const FYERS_KEY: &str = "XJ12345-100";
pub const FYERS_SECRET: &str = "fyers-secret";
pub const FYERS_PIN: &str = "4321";
pub const DHAN_KEY: &str = "dhan-app-id";
pub const DHAN_SECRET: &str = "dhan-app-secret";
pub const DHAN_CLIENT: &str = "1100123456";
pub const ANGEL_KEY: &str = "angel-api-key";
pub const ANGEL_CLIENT: &str = "A123456";
pub const TASTY_KEY: &str = "tasty-client";
pub const TASTY_SECRET: &str = "tasty-secret";
pub const ETRADE_KEY: &str = "etrade-consumer-key";
pub const ETRADE_SECRET: &str = "etrade-consumer-secret";
/// An E*TRADE key without a registered callback: its code is shown to type.
pub const ETRADE_OOB_KEY: &str = "etrade-oob-key";
pub const BREEZE_KEY: &str = "breeze-app-key";
pub const BREEZE_USER: &str = "BREEZE01";
pub const IBKR_USER: &str = "U1234567";

fn app(provider: ProviderKind, id: &str, secret: &str, path: &str) -> App {
    App::new(provider, id, secret, &format!("http://127.0.0.1:9/{path}"), "AB1234")
}

pub fn sandbox_config() -> SandboxConfig {
    SandboxConfig {
        apps: vec![
            app(ProviderKind::Kite, KITE_KEY, KITE_SECRET, "kite/callback"),
            App {
                kite_refresh_token: true,
                ..app(ProviderKind::Kite, KITE_REFRESH_KEY, KITE_SECRET, "kite2/callback")
            },
            app(ProviderKind::Upstox, UPSTOX_KEY, UPSTOX_SECRET, "upstox/callback"),
            App { require_basic_auth: true, ..app(ProviderKind::Schwab, SCHWAB_KEY, SCHWAB_SECRET, "schwab/callback") },
            App { require_pkce: true, ..app(ProviderKind::Schwab, PKCE_KEY, PKCE_SECRET, "generic/callback") },
            App { pin: FYERS_PIN.to_owned(), ..app(ProviderKind::Fyers, FYERS_KEY, FYERS_SECRET, "fyers/callback") },
            App { user_id: DHAN_CLIENT.to_owned(), ..app(ProviderKind::Dhan, DHAN_KEY, DHAN_SECRET, "dhan/callback") },
            App { user_id: ANGEL_CLIENT.to_owned(), ..app(ProviderKind::AngelOne, ANGEL_KEY, "", "angel/callback") },
            app(ProviderKind::Tastytrade, TASTY_KEY, TASTY_SECRET, "tasty/callback"),
            app(ProviderKind::Etrade, ETRADE_KEY, ETRADE_SECRET, "etrade/callback"),
            App::new(ProviderKind::Etrade, ETRADE_OOB_KEY, ETRADE_SECRET, "oob", "AB1234"),
            App { user_id: BREEZE_USER.to_owned(), ..app(ProviderKind::Breeze, BREEZE_KEY, "", "breeze/callback") },
            App::new(ProviderKind::Ibkr, "ibkr-gateway", "", "", IBKR_USER),
        ],
        ..SandboxConfig::default()
    }
}

pub async fn sandbox() -> Sandbox {
    Sandbox::start(sandbox_config()).await.expect("sandbox starts")
}

/// The config a user would write, pointed at the sandbox.
pub fn config_text(sandbox: &Sandbox) -> String {
    let (base, endpoints) = (sandbox.url(), sandbox.oauth2_endpoints_toml());
    format!(
        r#"
http_timeout = "2s"

[[account]]
id = "kite"
provider = "kite"
api_key = "{KITE_KEY}"
redirect_uri = "http://127.0.0.1:9/kite/callback"
api_base = "{base}"
login_base = "{base}"

[[account]]
id = "kite-platform"
provider = "kite"
api_key = "{KITE_REFRESH_KEY}"
redirect_uri = "http://127.0.0.1:9/kite2/callback"
api_base = "{base}"
login_base = "{base}"

[[account]]
id = "upstox"
provider = "upstox"
api_key = "{UPSTOX_KEY}"
redirect_uri = "http://127.0.0.1:9/upstox/callback"
api_base = "{base}"

[[account]]
id = "schwab"
provider = "schwab"
api_key = "{SCHWAB_KEY}"
redirect_uri = "http://127.0.0.1:9/schwab/callback"
api_base = "{base}"

[[account]]
id = "generic"
provider = "oauth2"
api_key = "{PKCE_KEY}"
redirect_uri = "http://127.0.0.1:9/generic/callback"
[account.oauth2]
{endpoints}client_auth = "body"
scopes = ["read", "trade"]

[[account]]
id = "fyers"
provider = "fyers"
api_key = "{FYERS_KEY}"
redirect_uri = "http://127.0.0.1:9/fyers/callback"
api_base = "{base}"

[[account]]
id = "dhan"
provider = "dhan"
api_key = "{DHAN_KEY}"
user_id = "{DHAN_CLIENT}"
redirect_uri = "http://127.0.0.1:9/dhan/callback"
api_base = "{base}"
login_base = "{base}"

[[account]]
id = "angelone"
provider = "angelone"
api_key = "{ANGEL_KEY}"
user_id = "{ANGEL_CLIENT}"
redirect_uri = "http://127.0.0.1:9/angel/callback"
api_base = "{base}"
login_base = "{base}"

[[account]]
id = "tastytrade"
provider = "tastytrade"
api_key = "{TASTY_KEY}"
redirect_uri = "http://127.0.0.1:9/tasty/callback"
api_base = "{base}"
login_base = "{base}"

[[account]]
id = "etrade"
provider = "etrade"
api_key = "{ETRADE_KEY}"
redirect_uri = "http://127.0.0.1:9/etrade/callback"
api_base = "{base}"
login_base = "{base}"

[[account]]
id = "etrade-oob"
provider = "etrade"
api_key = "{ETRADE_OOB_KEY}"
api_base = "{base}"
login_base = "{base}"

[[account]]
id = "breeze"
provider = "breeze"
api_key = "{BREEZE_KEY}"
user_id = "{BREEZE_USER}"
redirect_uri = "http://127.0.0.1:9/breeze/callback"
api_base = "{base}"
login_base = "{base}"

[[account]]
id = "upstox-extended"
provider = "upstox-extended"
api_key = "{UPSTOX_KEY}"
redirect_uri = "http://127.0.0.1:9/upstox/callback"
api_base = "{base}"

[[account]]
id = "ibkr"
provider = "ibkr"
api_base = "{base}"
login_base = "{base}"

[[account]]
id = "upstox-analytics"
provider = "upstox-analytics"
api_base = "{base}"
login_base = "{base}/developer/apps"
"#
    )
}

pub fn account(sandbox: &Sandbox, id: &str) -> AccountConfig {
    let config = Config::parse(&config_text(sandbox), Path::new("test.toml")).expect("test config parses");
    config.account(id).expect("account in the test config").clone()
}

pub fn client(sandbox: &Sandbox, id: &str) -> ProviderClient {
    ProviderClient::new(account(sandbox, id), tokentray_adapters::provider::http_client(Duration::from_secs(2)))
}

pub fn secret_for(id: &str) -> Secret {
    Secret::new(match id {
        "kite" | "kite-platform" => KITE_SECRET,
        "upstox" => UPSTOX_SECRET,
        "schwab" => SCHWAB_SECRET,
        "fyers" => FYERS_SECRET,
        "dhan" => DHAN_SECRET,
        "tastytrade" => TASTY_SECRET,
        "etrade" | "etrade-oob" => ETRADE_SECRET,
        "upstox-extended" => UPSTOX_SECRET,
        // Breeze's session and Upstox's analytics token need no secret.
        "breeze" | "upstox-analytics" | "ibkr" => "",
        // Angel One's publisher login needs no secret.
        "angelone" => "",
        _ => PKCE_SECRET,
    })
}

/// The credentials a renewal takes: the account's secret, and the PIN
/// (which only Fyers reads).
pub fn creds(secret: &Secret) -> Credentials {
    Credentials { secret: secret.clone(), pin: Some(Secret::new(FYERS_PIN)) }
}

/// A fresh login attempt (Dhan's asks the sandbox for a consent).
pub async fn new_attempt(client: &ProviderClient) -> LoginAttempt {
    client.begin_login(&secret_for(&client.account().id)).await.expect("the login starts")
}

/// Opens the authorize URL as a browser would and returns the query the
/// provider redirected back with.
pub async fn follow(url: &url::Url) -> HashMap<String, String> {
    let location = redirect_location(url).await;
    url::Url::parse(&location).unwrap().query_pairs().into_owned().collect()
}

/// Where the authorize URL redirects the browser.
pub async fn redirect_location(url: &url::Url) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = http.get(url.clone()).send().await.expect("authorize answers");
    assert_eq!(response.status(), 302, "authorize redirects back: {}", response.text().await.unwrap_or_default());
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// A whole login as the user makes it: where the broker shows a token to
/// paste (Upstox's analytics console), one made there; else [`login`].
pub async fn login_with(sandbox: &Sandbox, client: &ProviderClient) -> (Grant, LoginAttempt) {
    match client.account().describe().login {
        LoginShape::Watched => return gateway_login(client).await,
        LoginShape::Typed(_) => {}
        LoginShape::Redirect | LoginShape::RedirectOrTyped(_) => return login(client).await,
    }
    let attempt = new_attempt(client).await;
    let pasted = HashMap::from([("analytics_token".to_owned(), sandbox.make_upstox_analytics_token(UPSTOX_KEY))]);
    let code = client.read_callback(&pasted, &attempt).expect("a pasted token is taken");
    let grant = client.exchange(&code, &attempt, &Secret::new(""), chrono::Utc::now()).await.expect("the token works");
    (grant, attempt)
}

/// A login on a gateway's own page (IBKR's): the page opened and approved
/// as a person would, then the gateway watched until it says so.
pub async fn gateway_login(client: &ProviderClient) -> (Grant, LoginAttempt) {
    let attempt = new_attempt(client).await;
    assert_eq!(client.watch_login(&attempt).await.unwrap(), None, "not before the user logs in");
    let approved = redirect_location(&attempt.url).await;
    let page = reqwest::get(attempt.url.join(&approved).unwrap()).await.unwrap().text().await.unwrap();
    assert!(page.contains("Client login succeeds"), "{page}");
    let done = client.watch_login(&attempt).await.unwrap().expect("the gateway says the login is over");
    let code = client.read_callback(&done, &attempt).expect("the session is taken");
    let grant = client.exchange(&code, &attempt, &Secret::new(""), chrono::Utc::now()).await.expect("tickled");
    (grant, attempt)
}

/// A whole login: authorize, callback, exchange.
pub async fn login(client: &ProviderClient) -> (Grant, LoginAttempt) {
    let attempt = new_attempt(client).await;
    let query = follow(&attempt.url).await;
    let code = client.read_callback(&query, &attempt).expect("callback accepted");
    let grant = client
        .exchange(&code, &attempt, &secret_for(&client.account().id), chrono::Utc::now())
        .await
        .expect("exchange succeeds");
    (grant, attempt)
}

pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

//! The provider protocols over HTTP, as each broker's official documentation
//! and SDK speak them: one file each, implementing [`protocol::Protocol`].
//! [`ProviderClient`] is one account's adapter: it builds the authorize
//! URL, reads the callback, exchanges the code, refreshes, validates and
//! logs out, and turns every answer into a [`Grant`] or a classified
//! [`ProviderError`]. What a provider is (its names, rules and shapes) is
//! its description in `tokentray_core::provider`.

mod angelone;
mod breeze;
mod dhan;
mod error;
mod etrade;
mod fyers;
mod http;
mod ibkr;
mod kite;
mod oauth2;
mod protocol;
pub mod static_ip;
mod tastytrade;
mod upstox;
mod upstox_read_only;

pub use crate::bounded::read_bounded;
pub use error::ProviderError;
pub use fyers::app_id_hash;
pub use http::parse_retry_after;

use crate::config::AccountConfig;
use crate::store::TokenSet;
use crate::Secret;
use protocol::Protocol;
use std::collections::HashMap;
use std::time::Duration;
use tokentray_core::provider::{Renewal, StateEcho};
use tokentray_core::{ErrorClass, Instant, ProviderKind, TokenMeta};
use url::Url;

/// The file that speaks `kind`'s protocol: the one line a new provider adds here.
fn protocol(kind: ProviderKind) -> &'static dyn Protocol {
    match kind {
        ProviderKind::Kite => &kite::Kite,
        ProviderKind::Upstox => &upstox::Upstox,
        ProviderKind::Schwab | ProviderKind::OAuth2 => &oauth2::OAuth2,
        ProviderKind::Fyers => &fyers::Fyers,
        ProviderKind::Dhan => &dhan::Dhan,
        ProviderKind::AngelOne => &angelone::AngelOne,
        ProviderKind::Tastytrade => &tastytrade::Tastytrade,
        ProviderKind::Etrade => &etrade::Etrade,
        ProviderKind::Breeze => &breeze::Breeze,
        ProviderKind::Ibkr => &ibkr::Ibkr,
        ProviderKind::UpstoxExtended => &upstox_read_only::Extended,
        ProviderKind::UpstoxAnalytics => &upstox_read_only::Analytics,
    }
}

/// One login attempt: the URL to open and what the callback must echo back.
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    pub url: Url,
    /// Fresh per attempt; the callback must carry it back unchanged (CSRF).
    pub state: String,
    /// PKCE (RFC 7636) verifier, when the account uses PKCE.
    pub pkce_verifier: Option<Secret>,
    /// OAuth 1.0a (E*TRADE): the request token's secret, which signs the
    /// access-token call; the request token itself is `state`.
    pub request_token_secret: Option<Secret>,
}

impl LoginAttempt {
    /// An attempt that keeps nothing but its `state` to check the redirect against.
    pub fn new(url: Url, state: String) -> Self {
        Self { url, state, pkce_verifier: None, request_token_secret: None }
    }
}

/// Who the token belongs to, as the provider says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub user_id: Option<String>,
    pub user_name: Option<String>,
}

/// What a login callback hands over: the code to exchange, and, where the
/// provider sends the tokens in the redirect itself (Angel One), those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCode {
    /// Kite's `request_token`, OAuth's and Fyers' code, Dhan's `tokenId`,
    /// Angel One's `auth_token` (the access token itself).
    pub code: Secret,
    pub refresh_token: Option<Secret>,
    pub feed_token: Option<Secret>,
}

impl LoginCode {
    pub(crate) fn new(code: &str) -> Self {
        Self { code: Secret::new(code), refresh_token: None, feed_token: None }
    }
}

/// What an account needs besides its tokens to renew them: the api secret,
/// and the trading PIN that Fyers asks for with every renewal.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub secret: Secret,
    pub pin: Option<Secret>,
}

impl From<Secret> for Credentials {
    fn from(secret: Secret) -> Self {
        Self { secret, pin: None }
    }
}

/// A token the provider issued, with everything the lifecycle needs to know.
#[derive(Debug, Clone)]
pub struct Grant {
    pub tokens: TokenSet,
    pub meta: TokenMeta,
    pub user: UserInfo,
}

/// Why a login callback was refused before any exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("the callback's `state` does not match this login attempt (a stale tab, or a forged request)")]
    StateMismatch,
    #[error("the provider reported an error: {0}")]
    Denied(String),
    #[error("the callback has no `{0}`")]
    Missing(&'static str),
}

/// The header the provider's API takes the token in: its name, and its
/// value with this token (Kite's `token key:token`, Fyers' `app_id:token`,
/// Dhan's bare token in `access-token`, a bearer token elsewhere); `None`
/// where every request is signed instead (E*TRADE, Breeze).
pub fn auth_header(provider: ProviderKind, api_key: &str, access_token: &Secret) -> Option<(&'static str, String)> {
    let header = provider.describe().header?;
    Some((header.name, header.value_with(api_key, access_token.expose())))
}

/// The HTTP client provider adapters share. `timeout` bounds every request.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("tokentray/", env!("CARGO_PKG_VERSION")))
        // Provider endpoints answer directly; a redirect would carry credentials elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the HTTP client builds with rustls")
}

/// One account's provider adapter.
#[derive(Debug, Clone)]
pub struct ProviderClient {
    account: AccountConfig,
    http: reqwest::Client,
    /// For a gateway on this machine (IBKR's): made when first used.
    gateway: std::sync::Arc<std::sync::OnceLock<reqwest::Client>>,
}

impl ProviderClient {
    /// An adapter for `account` over `http`, which all accounts share: one
    /// connection pool and one TLS root store, however many accounts.
    pub fn new(account: AccountConfig, http: reqwest::Client) -> Self {
        Self { account, http, gateway: Default::default() }
    }

    /// The client for a broker's gateway the user runs (IBKR's). On this
    /// machine it takes the gateway's own certificate: IBKR ships every
    /// gateway with the same self-signed one (`root/vertx.jks`, its
    /// password public), which proves nothing on loopback either way.
    /// Anywhere else the certificate is checked as for any broker.
    pub(crate) fn gateway_http(&self) -> &reqwest::Client {
        if !gateway_is_local(&self.account.api_base) {
            return &self.http;
        }
        self.gateway.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(self.account.http_timeout.to_std().unwrap_or(Duration::from_secs(15)))
                .user_agent(concat!("tokentray/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                // Only this machine: no proxy (which would resolve `localhost`
                // elsewhere), and `localhost` is 127.0.0.1, never a DNS answer.
                .no_proxy()
                .resolve("localhost", std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
                .danger_accept_invalid_certs(true)
                .build()
                .expect("the HTTP client builds with rustls")
        })
    }

    /// Whether the login ended on the broker's own page (a gateway's,
    /// IBKR's): what it hands over once it has, else `None`.
    pub async fn watch_login(&self, attempt: &LoginAttempt) -> Result<Option<HashMap<String, String>>, ProviderError> {
        protocol(self.kind()).watch_login(self, attempt).await
    }

    pub fn account(&self) -> &AccountConfig {
        &self.account
    }

    pub fn kind(&self) -> ProviderKind {
        self.account.provider
    }

    /// A fresh login attempt with its own `state` (and PKCE verifier). Dhan
    /// first asks the broker for a consent with the app's key and secret.
    pub async fn begin_login(&self, secret: &Secret) -> Result<LoginAttempt, ProviderError> {
        protocol(self.kind()).begin_login(self, secret, crate::random::url_safe(16)).await
    }

    /// Checks the redirect's query against the attempt and returns what it
    /// hands over (Kite's `request_token`, OAuth's `code`, ...).
    pub fn read_callback(
        &self,
        query: &HashMap<String, String>,
        attempt: &LoginAttempt,
    ) -> Result<LoginCode, CallbackError> {
        // Where the redirect may carry no state (docs/providers/), the
        // exchange ties the login to the account by the client id the
        // broker names. Any state sent must match.
        let echoed = |field: &str| query.get(field).map(|s| crate::same_in_constant_time(s, &attempt.state));
        let state_ok = match self.account.describe().state {
            StateEcho::Always => echoed("state") == Some(true),
            StateEcho::Sometimes => echoed("state") != Some(false),
            StateEcho::Never => true,
            StateEcho::RequestToken => echoed("oauth_token") != Some(false),
        };
        if !state_ok {
            return Err(CallbackError::StateMismatch);
        }
        protocol(self.kind()).read_callback(query)
    }

    /// Exchanges the callback's code for a token set (Angel One's redirect
    /// brings the tokens: they are checked with a profile call instead).
    pub async fn exchange(
        &self,
        login: &LoginCode,
        attempt: &LoginAttempt,
        secret: &Secret,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        let grant = protocol(self.kind()).exchange(self, login, attempt, secret, now).await?;
        self.for_this_client(checked(self.kind(), grant)?)
    }

    /// A login whose redirect may carry no `state` is this account's only
    /// if the broker names the configured client.
    fn for_this_client(&self, grant: Grant) -> Result<Grant, ProviderError> {
        if self.account.describe().user_id.is_none() {
            return Ok(grant);
        }
        let expected = self.account.user_id.as_deref().unwrap_or_default();
        match grant.user.user_id.as_deref() {
            Some(got) if got.eq_ignore_ascii_case(expected) => Ok(grant),
            // A login as someone else: log in again as the configured client
            // (or correct `user_id`). The broker's words are cleaned for people.
            got => Err(ProviderError::new(
                self.kind(),
                ErrorClass::TokenInvalid,
                format!(
                    "the login was for {} client {}, but this account is for {expected} (its user_id): nothing \
                     was stored; log in as {expected}, or correct user_id",
                    self.kind().display_name(),
                    error::printable(got.unwrap_or("(none named)"), 60)
                ),
            )),
        }
    }

    /// Renews the token without the user, where the provider allows it.
    /// `current` is the token being renewed; its login time carries over.
    pub async fn refresh(
        &self,
        tokens: &TokenSet,
        current: &TokenMeta,
        credentials: &Credentials,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        let grant = match self.account.describe().renewal {
            Renewal::LoginOnly => Err(ProviderError::new(
                self.kind(),
                ErrorClass::TokenInvalid,
                format!("{} tokens cannot be refreshed: log in instead", self.kind().display_name()),
            )),
            Renewal::RefreshToken => {
                protocol::refresh_token(self, tokens)?;
                protocol(self.kind()).refresh(self, tokens, current, credentials, now).await
            }
            Renewal::ItselfWhileValid | Renewal::InPlace => {
                protocol(self.kind()).refresh(self, tokens, current, credentials, now).await
            }
        }?;
        checked(self.kind(), grant)
    }

    /// What a token endpoint's answer (its status and raw bytes) grants on a
    /// login, without I/O: the same reading `exchange` does, so that any
    /// bytes at all can be tried against it.
    pub fn read_token_answer(&self, status: u16, body: &[u8], now: Instant) -> Result<Grant, ProviderError> {
        let reply = http::read_reply(self.kind(), status, None, body)?;
        checked(self.kind(), protocol(self.kind()).token_answer(self, reply, now)?)
    }

    /// What a profile call's answer says about the token, without I/O.
    pub fn read_profile_answer(&self, status: u16, body: &[u8]) -> Result<UserInfo, ProviderError> {
        let reply = http::read_reply(self.kind(), status, None, body)?;
        protocol(self.kind()).profile_answer(self, reply)
    }

    /// Whether the provider has a call that tells if a token works (an
    /// OAuth2 provider without a `profile_url` has none).
    pub fn can_validate(&self) -> bool {
        self.account.can_validate()
    }

    /// Asks the provider whether the access token works (a profile call).
    pub async fn validate(&self, tokens: &TokenSet) -> Result<UserInfo, ProviderError> {
        protocol(self.kind()).validate(self, &tokens.access_token).await
    }

    /// Asks with a call signed with the app's secret too, where the
    /// provider signs every request (E*TRADE); as `validate` elsewhere.
    pub async fn validate_with_secret(&self, tokens: &TokenSet, secret: &Secret) -> Result<UserInfo, ProviderError> {
        protocol(self.kind()).validate_signed(self, tokens, secret).await
    }

    /// The static IPs registered for the app, where the provider lets a
    /// program read them (Upstox, Dhan); `None` where it does not.
    pub async fn registered_ips(&self, access: &Secret) -> Result<Option<static_ip::RegisteredIps>, ProviderError> {
        protocol(self.kind()).registered_ips(self, access).await
    }

    /// Invalidates the tokens at the provider, where it offers a way to.
    pub async fn logout(&self, tokens: &TokenSet, secret: Option<&Secret>) -> Result<(), ProviderError> {
        protocol(self.kind()).logout(self, tokens, secret).await
    }

    /// Whether renewing needs the trading PIN (Fyers), a second secret.
    pub fn needs_pin(&self) -> bool {
        self.account.describe().pin
    }

    /// `base` + `path`, keeping any path prefix the base has (a proxy's `/kite`).
    pub(crate) fn endpoint(base: &Url, path: &str) -> String {
        format!("{}{}", base.as_str().trim_end_matches('/'), path)
    }
}

/// Whether `base` is this machine: a loopback address, or `localhost`.
pub fn gateway_is_local(base: &Url) -> bool {
    match base.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The callback query of a redirect URL the user pasted (`--no-browser`),
/// or of a bare `?query`; `None` when the line is neither.
pub fn pasted_callback_query(line: &str) -> Option<HashMap<String, String>> {
    let line = line.trim();
    let query = match Url::parse(line) {
        Ok(url) => url.query()?.to_owned(),
        Err(_) => line.strip_prefix('?')?.to_owned(),
    };
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    (!pairs.is_empty()).then_some(pairs)
}

/// The `exp` claim of a JWT, read without verifying it (we are not its audience;
/// the provider checks the signature, we only want to know when it ends).
pub fn jwt_exp(token: &str) -> Option<i64> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes).ok()?.get("exp")?.as_i64()
}

/// The longest token TokenTray accepts: JWTs of every provider here are a
/// few kilobytes at most.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Whether `token` can be a token: visible ASCII only (RFC 6750's b64token
/// and every provider's tokens are), and not absurdly long. A token is
/// written into files that shells source; nothing else may reach them.
pub fn is_token_text(token: &str) -> bool {
    !token.is_empty() && token.len() <= MAX_TOKEN_LEN && token.bytes().all(|b| b.is_ascii_graphic())
}

/// A grant whose tokens are not token text is the provider's error: it is
/// never stored, served or written to a sink.
fn checked(provider: ProviderKind, grant: Grant) -> Result<Grant, ProviderError> {
    let tokens = std::iter::once(&grant.tokens.access_token)
        .chain(grant.tokens.refresh_token.as_ref())
        .chain(grant.tokens.feed_token.as_ref())
        .chain(grant.tokens.token_secret.as_ref());
    if tokens.into_iter().all(|t| is_token_text(t.expose())) {
        return Ok(grant);
    }
    Err(ProviderError::malformed(
        provider,
        200,
        format!(
            "the provider sent a token with characters a token cannot have (only visible ASCII, at most {} KiB); \
             it was not stored",
            MAX_TOKEN_LEN / 1024
        ),
    ))
}

/// The expiry an account's config imposes over the provider's rule, if any.
pub(crate) fn lifetime_override(account: &AccountConfig, now: Instant) -> Option<Instant> {
    account.token_lifetime.map(|l| tokentray_core::add_span(now, l))
}

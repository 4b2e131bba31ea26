//! The provider protocols over HTTP, as each broker's official documentation
//! and SDK speak them. [`ProviderClient`] is one account's adapter: it builds
//! the authorize URL, reads the callback, exchanges the code, refreshes,
//! validates and logs out, and turns every answer into a [`Grant`] or a
//! classified [`ProviderError`].

mod error;
mod http;
mod kite;
mod oauth2;
mod upstox;

pub use error::ProviderError;
pub use upstox::jwt_exp;

use crate::config::AccountConfig;
use crate::store::TokenSet;
use crate::Secret;
use std::collections::HashMap;
use std::time::Duration;
use tokentray_core::{Instant, ProviderKind, TokenMeta};
use url::Url;

/// One login attempt: the URL to open and what the callback must echo back.
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    pub url: Url,
    /// Fresh per attempt; the callback must carry it back unchanged (CSRF).
    pub state: String,
    /// PKCE (RFC 7636) verifier, when the account uses PKCE.
    pub pkce_verifier: Option<Secret>,
}

/// Who the token belongs to, as the provider says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub user_id: Option<String>,
    pub user_name: Option<String>,
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

/// The `Authorization` header value the provider's API expects with this token.
pub fn authorization_header(provider: ProviderKind, api_key: &str, access_token: &Secret) -> String {
    match provider {
        ProviderKind::Kite => format!("token {api_key}:{}", access_token.expose()),
        _ => format!("Bearer {}", access_token.expose()),
    }
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
}

impl ProviderClient {
    /// An adapter for `account` over `http`, which all accounts share: one
    /// connection pool and one TLS root store, however many accounts.
    pub fn new(account: AccountConfig, http: reqwest::Client) -> Self {
        Self { account, http }
    }

    pub fn account(&self) -> &AccountConfig {
        &self.account
    }

    pub fn kind(&self) -> ProviderKind {
        self.account.provider
    }

    /// A fresh login attempt with its own `state` (and PKCE verifier).
    pub fn begin_login(&self) -> LoginAttempt {
        let state = crate::random::url_safe(16);
        match self.kind() {
            ProviderKind::Kite => kite::begin_login(&self.account, state),
            ProviderKind::Upstox => upstox::begin_login(&self.account, state),
            ProviderKind::Schwab | ProviderKind::OAuth2 => oauth2::begin_login(&self.account, state),
        }
    }

    /// Checks the redirect's query against the attempt and returns the code to
    /// exchange (Kite's `request_token`, OAuth's `code`).
    pub fn read_callback(
        &self,
        query: &HashMap<String, String>,
        attempt: &LoginAttempt,
    ) -> Result<String, CallbackError> {
        let state = query.get("state").map(String::as_str).unwrap_or("");
        if !crate::same_in_constant_time(state, &attempt.state) {
            return Err(CallbackError::StateMismatch);
        }
        let (code_field, failed) = match self.kind() {
            ProviderKind::Kite => {
                let status = query.get("status").map(String::as_str);
                (
                    "request_token",
                    (status != Some("success")).then(|| format!("status={}", status.unwrap_or("missing"))),
                )
            }
            _ => (
                "code",
                query.get("error").map(|e| match query.get("error_description") {
                    Some(d) => format!("{e}: {d}"),
                    None => e.clone(),
                }),
            ),
        };
        if let Some(why) = failed {
            return Err(CallbackError::Denied(why));
        }
        query.get(code_field).filter(|c| !c.is_empty()).cloned().ok_or(CallbackError::Missing(code_field))
    }

    /// Exchanges the callback's code for a token set.
    pub async fn exchange(
        &self,
        code: &str,
        attempt: &LoginAttempt,
        secret: &Secret,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        let grant = match self.kind() {
            ProviderKind::Kite => kite::exchange(self, code, secret, now).await,
            ProviderKind::Upstox => upstox::exchange(self, code, secret, now).await,
            ProviderKind::Schwab | ProviderKind::OAuth2 => oauth2::exchange(self, code, attempt, secret, now).await,
        }?;
        checked(self.kind(), grant)
    }

    /// Renews the token without the user, where the provider allows it.
    /// `current` is the token being renewed; its login time carries over.
    pub async fn refresh(
        &self,
        tokens: &TokenSet,
        current: &TokenMeta,
        secret: &Secret,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        let Some(refresh_token) = tokens.refresh_token.as_ref().filter(|t| !t.is_empty()) else {
            return Err(ProviderError::new(
                self.kind(),
                tokentray_core::ErrorClass::TokenInvalid,
                "this token cannot be refreshed (no refresh token): log in instead",
            ));
        };
        let grant = match self.kind() {
            ProviderKind::Kite => kite::refresh(self, refresh_token, current, secret, now).await,
            ProviderKind::Upstox => Err(ProviderError::new(
                ProviderKind::Upstox,
                tokentray_core::ErrorClass::TokenInvalid,
                "Upstox tokens cannot be refreshed: log in instead",
            )),
            ProviderKind::Schwab | ProviderKind::OAuth2 => {
                oauth2::refresh(self, refresh_token, current, secret, now).await
            }
        }?;
        checked(self.kind(), grant)
    }

    /// What a token endpoint's answer (its status and raw bytes) grants on a
    /// login, without I/O: the same reading `exchange` does, so that any
    /// bytes at all can be tried against it.
    pub fn read_token_answer(&self, status: u16, body: &[u8], now: Instant) -> Result<Grant, ProviderError> {
        let reply = http::read_reply(self.kind(), status, None, body)?;
        let grant = match self.kind() {
            ProviderKind::Kite => kite::session_answer(self, reply, None, None, now),
            ProviderKind::Upstox => upstox::token_answer(self, reply, now),
            ProviderKind::Schwab | ProviderKind::OAuth2 => oauth2::token_answer(self, reply, None, now, now),
        }?;
        checked(self.kind(), grant)
    }

    /// What a profile call's answer says about the token, without I/O.
    pub fn read_profile_answer(&self, status: u16, body: &[u8]) -> Result<UserInfo, ProviderError> {
        let reply = http::read_reply(self.kind(), status, None, body)?;
        match self.kind() {
            ProviderKind::Kite => kite::profile_answer(reply),
            ProviderKind::Upstox => upstox::profile_answer(reply),
            ProviderKind::Schwab | ProviderKind::OAuth2 => oauth2::profile_answer(self.kind(), reply),
        }
    }

    /// Whether the provider has a call that tells if a token works (an
    /// OAuth2 provider without a `profile_url` has none).
    pub fn can_validate(&self) -> bool {
        match self.kind() {
            ProviderKind::OAuth2 => self.account.oauth2.as_ref().is_some_and(|o| o.profile_url.is_some()),
            _ => true,
        }
    }

    /// Asks the provider whether the access token works (a profile call).
    pub async fn validate(&self, tokens: &TokenSet) -> Result<UserInfo, ProviderError> {
        match self.kind() {
            ProviderKind::Kite => kite::profile(self, &tokens.access_token).await,
            ProviderKind::Upstox => upstox::profile(self, &tokens.access_token).await,
            ProviderKind::Schwab | ProviderKind::OAuth2 => oauth2::profile(self, &tokens.access_token).await,
        }
    }

    /// Invalidates the tokens at the provider, where it offers a way to.
    pub async fn logout(&self, tokens: &TokenSet, secret: Option<&Secret>) -> Result<(), ProviderError> {
        match self.kind() {
            ProviderKind::Kite => kite::logout(self, &tokens.access_token).await,
            ProviderKind::Upstox => upstox::logout(self, &tokens.access_token).await,
            ProviderKind::Schwab | ProviderKind::OAuth2 => oauth2::logout(self, tokens, secret).await,
        }
    }

    /// `base` + `path`, keeping any path prefix the base has (a proxy's `/kite`).
    pub(crate) fn endpoint(base: &Url, path: &str) -> String {
        format!("{}{}", base.as_str().trim_end_matches('/'), path)
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
    let tokens = std::iter::once(&grant.tokens.access_token).chain(grant.tokens.refresh_token.as_ref());
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

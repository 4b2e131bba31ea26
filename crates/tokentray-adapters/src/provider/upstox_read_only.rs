//! Upstox's year-long read-only tokens. The extended token comes in the
//! daily login's token answer (`extended_token`, every app since 11 Mar
//! 2026); the analytics token is made in the developer console's Analytics
//! tab and pasted. Neither places orders; neither renews; each lives a year.
//!
//! Every fact, with its source (Upstox's get-token page, its announcements
//! "extended tokens for all apps" and "analytics token" and its error codes
//! page; upstox/upstox-python `upstox_client/models/token_response.py`):
//! `docs/providers/upstox.md`.

use super::http::{required, send, Reply};
use super::protocol::{code_in, code_or_error, Protocol};
use super::{
    lifetime_override, upstox, CallbackError, Credentials, Grant, LoginAttempt, LoginCode, ProviderClient,
    ProviderError, UserInfo,
};
use crate::store::TokenSet;
use crate::Secret;
use std::collections::HashMap;
use tokentray_core::expiry::jwt_expiry;
use tokentray_core::{add_span, ErrorClass, Instant, ProviderKind, Refreshability, Span, TokenMeta};

/// "valid for one year from the date it is generated" (both announcements).
const A_YEAR: Span = Span::days(365);

/// An API the token may not call: the token itself was recognized.
const NOT_PERMITTED: &str = "UDAPI100067";

/// `UDAPI100067` answers a call outside the token's list: a check that
/// meets it has still learnt that the token is alive.
fn alive_or_error(kind: ProviderKind, reply: Reply) -> Result<Option<Reply>, ProviderError> {
    if reply.is_success() {
        return Ok(Some(reply));
    }
    let e = upstox::error_of(kind, &reply);
    match e.code.as_deref() {
        Some(NOT_PERMITTED) => Ok(None),
        _ => Err(e),
    }
}

/// A year-long token's expiry: its JWT `exp` where it can be read, else a
/// year from when TokenTray got it (validation finds out the truth).
fn read_only_grant(c: &ProviderClient, token: &str, user: UserInfo, now: Instant) -> Grant {
    let fallback = add_span(now, A_YEAR);
    let expires_at =
        lifetime_override(c.account(), now).unwrap_or_else(|| jwt_expiry(now, super::jwt_exp(token), fallback));
    Grant {
        tokens: TokenSet::access(token),
        meta: TokenMeta { issued_at: now, expires_at, login_at: now, refresh: Refreshability::NotRefreshable },
        user,
    }
}

/// `GET /v2/user/profile`, which tells a live read-only token even where
/// the token may not read it.
async fn check(c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
    let request = c
        .http
        .get(ProviderClient::endpoint(&c.account().api_base, "/v2/user/profile"))
        .header("Accept", "application/json")
        .bearer_auth(access.expose());
    profile_answer(c.kind(), send(c.kind(), request).await?)
}

fn profile_answer(kind: ProviderKind, reply: Reply) -> Result<UserInfo, ProviderError> {
    let status = reply.status;
    match alive_or_error(kind, reply)? {
        Some(reply) => match reply.body.get("data") {
            Some(data) => Ok(upstox::user(data)),
            None => Err(ProviderError::malformed(kind, status, "the response has no `data`")),
        },
        None => Ok(UserInfo::default()),
    }
}

/// `GET /v2/market/status/NSE`: on the analytics token's list of APIs
/// (its profile call needs a static IP besides); it names nobody.
async fn market_status(c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
    let request = c
        .http
        .get(ProviderClient::endpoint(&c.account().api_base, "/v2/market/status/NSE"))
        .header("Accept", "application/json")
        .bearer_auth(access.expose());
    let reply = send(c.kind(), request).await?;
    if !reply.is_success() {
        return Err(upstox::error_of(c.kind(), &reply));
    }
    match reply.body.get("data").is_some_and(serde_json::Value::is_object) {
        true => Ok(UserInfo::default()),
        false => Err(ProviderError::malformed(c.kind(), reply.status, "the response has no `data`")),
    }
}

fn not_renewable(kind: ProviderKind) -> ProviderError {
    ProviderError::new(
        kind,
        ErrorClass::TokenInvalid,
        "Upstox's read-only tokens cannot be renewed: make a new one with `tokentray login`",
    )
}

/// The extended token, from the login the daily token comes from.
pub(super) struct Extended;

#[async_trait::async_trait]
impl Protocol for Extended {
    async fn begin_login(&self, c: &ProviderClient, _: &Secret, state: String) -> Result<LoginAttempt, ProviderError> {
        Ok(upstox::begin_login(c.account(), state))
    }

    fn read_callback(&self, query: &HashMap<String, String>) -> Result<LoginCode, CallbackError> {
        code_or_error(query, "code")
    }

    /// The login's exchange, asking for a new extended token
    /// (`refresh_extended_token=true`): this account logs in once a year, or
    /// to replace a token it no longer trusts, and the old one ends. (A daily
    /// `upstox` account of the same app sends nothing, which keeps it.)
    async fn exchange(
        &self,
        c: &ProviderClient,
        login: &LoginCode,
        _: &LoginAttempt,
        secret: &Secret,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        let a = c.account();
        let request = c
            .http
            .post(ProviderClient::endpoint(&a.api_base, "/v2/login/authorization/token"))
            .header("Accept", "application/json")
            .form(&[
                ("code", login.code.expose()),
                ("client_id", a.api_key.as_str()),
                ("client_secret", secret.expose()),
                ("redirect_uri", a.redirect_uri.as_str()),
                ("grant_type", "authorization_code"),
                ("refresh_extended_token", "true"),
            ]);
        self.token_answer(c, send(c.kind(), request).await?, now)
    }

    async fn refresh(
        &self,
        c: &ProviderClient,
        _: &TokenSet,
        _: &TokenMeta,
        _: &Credentials,
        _: Instant,
    ) -> Result<Grant, ProviderError> {
        Err(not_renewable(c.kind()))
    }

    /// The flat token answer's `extended_token` (its `access_token`, the
    /// daily one, is not kept: this account is the read-only one).
    fn token_answer(&self, c: &ProviderClient, reply: Reply, now: Instant) -> Result<Grant, ProviderError> {
        if !reply.is_success() {
            return Err(upstox::error_of(c.kind(), &reply));
        }
        let token = required(c.kind(), reply.status, &reply.body, "extended_token").map_err(|mut e| {
            e.message = "the token answer has no `extended_token` (Upstox gives one to every app since 11 March \
                         2026; check the app in Upstox's developer console)"
                .to_owned();
            e
        })?;
        Ok(read_only_grant(c, token, upstox::user(&reply.body), now))
    }

    fn profile_answer(&self, c: &ProviderClient, reply: Reply) -> Result<UserInfo, ProviderError> {
        profile_answer(c.kind(), reply)
    }

    async fn validate(&self, c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
        check(c, access).await
    }

    /// Upstox documents no way to end an extended token early (its logout
    /// ends the daily token): the logout is local.
    async fn logout(&self, _: &ProviderClient, _: &TokenSet, _: Option<&Secret>) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// The analytics token: made in the console, pasted into TokenTray.
pub(super) struct Analytics;

#[async_trait::async_trait]
impl Protocol for Analytics {
    /// The "login" is the console page where the token is made; the user
    /// pastes it (the description's `LoginShape::Typed`).
    async fn begin_login(&self, c: &ProviderClient, _: &Secret, state: String) -> Result<LoginAttempt, ProviderError> {
        Ok(LoginAttempt::new(c.account().login_base.clone(), state))
    }

    fn read_callback(&self, query: &HashMap<String, String>) -> Result<LoginCode, CallbackError> {
        code_in(query, "analytics_token")
    }

    /// A pasted token is taken only once Upstox has said it is alive.
    async fn exchange(
        &self,
        c: &ProviderClient,
        login: &LoginCode,
        _: &LoginAttempt,
        _: &Secret,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        let token = login.code.expose();
        if !super::is_token_text(token) {
            return Err(ProviderError::new(c.kind(), ErrorClass::Malformed, "that is not a token: paste it whole"));
        }
        let user = market_status(c, &login.code).await?;
        Ok(read_only_grant(c, token, user, now))
    }

    async fn refresh(
        &self,
        c: &ProviderClient,
        _: &TokenSet,
        _: &TokenMeta,
        _: &Credentials,
        _: Instant,
    ) -> Result<Grant, ProviderError> {
        Err(not_renewable(c.kind()))
    }

    /// No endpoint answers with an analytics token: any answer is refused.
    fn token_answer(&self, c: &ProviderClient, reply: Reply, _: Instant) -> Result<Grant, ProviderError> {
        Err(ProviderError::malformed(c.kind(), reply.status, "an analytics token is pasted, never answered"))
    }

    fn profile_answer(&self, c: &ProviderClient, reply: Reply) -> Result<UserInfo, ProviderError> {
        profile_answer(c.kind(), reply)
    }

    async fn validate(&self, c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
        market_status(c, access).await
    }

    /// Revoked in the console only: the logout is local.
    async fn logout(&self, _: &ProviderClient, _: &TokenSet, _: Option<&Secret>) -> Result<(), ProviderError> {
        Ok(())
    }
}

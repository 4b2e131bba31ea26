//! Tastytrade, OAuth2 only since 11 Feb 2026: the authorization-code login
//! on my.tastytrade.com, 15-minute access tokens renewed with a refresh
//! token that does not expire, `GET /customers/me` to check.
//!
//! Every fact, with its source (developer.tastytrade.com's OAuth2, get-started
//! and errors pages; tastyware/tastytrade `tastytrade/session.py`; the
//! official tastytrade-api-js client): `docs/providers/tastytrade.md`.

use super::error::Codes;
use super::http::{send, text, Reply};
use super::protocol::{code_or_error, refresh_token, Protocol};
use super::{
    oauth2, CallbackError, Credentials, Grant, LoginAttempt, LoginCode, ProviderClient, ProviderError, UserInfo,
};
use crate::store::TokenSet;
use crate::Secret;
use serde_json::{json, Value};
use std::collections::HashMap;
use tokentray_core::{ErrorClass, Instant, ProviderKind, TokenMeta};

const TASTY: ProviderKind = ProviderKind::Tastytrade;

/// The scopes a token keeper asks for: reading, and trading for the bots.
const SCOPES: &str = "read trade";

/// `/oauth/token`'s codes (`error_code`), and the REST API's (`error.code`).
pub(super) const CODES: Codes = &[
    ("invalid_grant", ErrorClass::TokenInvalid),
    ("invalid_token", ErrorClass::TokenInvalid),
    ("unauthorized", ErrorClass::TokenInvalid),
    ("invalid_client", ErrorClass::CredentialsWrong),
    ("unauthorized_client", ErrorClass::CredentialsWrong),
    ("invalid_credentials", ErrorClass::CredentialsWrong),
];

/// Tastytrade's two error shapes: `{"error_code","error_description"}` on
/// `/oauth/token`, `{"error":{"code","message"}}` on the REST API; an
/// RFC 6749 `{"error","error_description"}` is read too.
fn error(reply: &Reply) -> ProviderError {
    let b = &reply.body;
    let nested = b.get("error").filter(|e| e.is_object());
    let code = text(b, "error_code")
        .or_else(|| text(b, "error"))
        .or_else(|| nested.and_then(|e| text(e, "code")))
        .map(str::to_owned);
    let message = text(b, "error_description")
        .or_else(|| nested.and_then(|e| text(e, "message")))
        .unwrap_or("no description")
        .to_owned();
    ProviderError {
        retry_after: reply.retry_after,
        ..ProviderError::from_response(TASTY, reply.status, code, message, CODES)
    }
}

pub fn begin_login(c: &ProviderClient, state: String) -> LoginAttempt {
    let a = c.account();
    let mut url =
        url::Url::parse(&ProviderClient::endpoint(&a.login_base, "/auth.html")).expect("login_base is a valid URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &a.api_key)
        .append_pair("redirect_uri", a.redirect_uri.as_str())
        .append_pair("scope", SCOPES)
        .append_pair("state", &state);
    LoginAttempt::new(url, state)
}

/// `POST /oauth/token` with a JSON body, as the docs and both SDKs send it.
fn token_request(c: &ProviderClient, body: Value) -> reqwest::RequestBuilder {
    c.http
        .post(ProviderClient::endpoint(&c.account().api_base, "/oauth/token"))
        .header("Accept", "application/json")
        .json(&body)
}

pub(super) fn token_answer(
    c: &ProviderClient,
    reply: Reply,
    previous_refresh: Option<&Secret>,
    login_at: Instant,
    now: Instant,
) -> Result<Grant, ProviderError> {
    if !reply.is_success() {
        return Err(error(&reply));
    }
    // The success is RFC 6749's: `access_token`, `expires_in` (900), and a
    // `refresh_token` on the login (and on a renewal, if it rotated).
    oauth2::token_answer(c, reply, previous_refresh, login_at, now)
}

async fn exchange(c: &ProviderClient, code: &str, secret: &Secret, now: Instant) -> Result<Grant, ProviderError> {
    let a = c.account();
    let body = json!({
        "grant_type": "authorization_code", "code": code, "client_id": a.api_key,
        "client_secret": secret.expose(), "redirect_uri": a.redirect_uri.as_str(),
    });
    token_answer(c, send(TASTY, token_request(c, body)).await?, None, now, now)
}

async fn refresh(
    c: &ProviderClient,
    refresh_token: &Secret,
    current: &TokenMeta,
    secret: &Secret,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let body = json!({
        "grant_type": "refresh_token", "refresh_token": refresh_token.expose(),
        "client_id": c.account().api_key, "client_secret": secret.expose(),
    });
    let first = send(TASTY, token_request(c, body.clone())).await?;
    let first = token_answer(c, first, Some(refresh_token), current.login_at, now);
    match first {
        // Tastytrade has refused good refresh tokens at times (tastyware
        // issue 351): a refusal is believed only when asked twice.
        Err(e) if e.class == ErrorClass::TokenInvalid => {
            tracing::info!(provider = %TASTY, "the refresh token was refused; asking once more before believing it");
            token_answer(c, send(TASTY, token_request(c, body)).await?, Some(refresh_token), current.login_at, now)
        }
        other => other,
    }
}

async fn customer(c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
    let request = c
        .http
        .get(ProviderClient::endpoint(&c.account().api_base, "/customers/me"))
        .header("Accept", "application/json")
        .bearer_auth(access.expose());
    profile_answer(send(TASTY, request).await?)
}

/// `{"data": {...}}` with dasherized keys; the customer's `external-id`
/// (no username is exposed) and name.
pub(super) fn profile_answer(reply: Reply) -> Result<UserInfo, ProviderError> {
    if !reply.is_success() {
        return Err(error(&reply));
    }
    let data = reply
        .body
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| ProviderError::malformed(TASTY, reply.status, "the response has no `data`"))?;
    let name = [text(data, "first-name"), text(data, "last-name")].into_iter().flatten().collect::<Vec<_>>().join(" ");
    Ok(UserInfo {
        user_id: text(data, "external-id").or_else(|| text(data, "email")).map(str::to_owned),
        user_name: Some(name).filter(|n| !n.is_empty()),
    })
}

pub(super) struct Tastytrade;

#[async_trait::async_trait]
impl Protocol for Tastytrade {
    async fn begin_login(&self, c: &ProviderClient, _: &Secret, state: String) -> Result<LoginAttempt, ProviderError> {
        Ok(begin_login(c, state))
    }

    fn read_callback(&self, query: &HashMap<String, String>) -> Result<LoginCode, CallbackError> {
        code_or_error(query, "code")
    }

    async fn exchange(
        &self,
        c: &ProviderClient,
        login: &LoginCode,
        _: &LoginAttempt,
        secret: &Secret,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        exchange(c, login.code.expose(), secret, now).await
    }

    async fn refresh(
        &self,
        c: &ProviderClient,
        tokens: &TokenSet,
        current: &TokenMeta,
        credentials: &Credentials,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        refresh(c, refresh_token(c, tokens)?, current, &credentials.secret, now).await
    }

    fn token_answer(&self, c: &ProviderClient, reply: Reply, now: Instant) -> Result<Grant, ProviderError> {
        token_answer(c, reply, None, now, now)
    }

    fn profile_answer(&self, _: &ProviderClient, reply: Reply) -> Result<UserInfo, ProviderError> {
        profile_answer(reply)
    }

    async fn validate(&self, c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
        customer(c, access).await
    }

    /// Tastytrade has no revocation call: a grant is ended by deleting it on
    /// my.tastytrade.com (API, OAuth Applications). The logout is local.
    async fn logout(&self, _: &ProviderClient, _: &TokenSet, _: Option<&Secret>) -> Result<(), ProviderError> {
        Ok(())
    }
}

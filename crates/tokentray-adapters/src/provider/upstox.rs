//! Upstox API v2.
//!
//! Sources: Upstox developer docs, authorize, get-token, logout and error codes
//! (<https://upstox.com/developer/api-documentation/authentication>); the
//! upstox/upstox-python SDK `upstox_client/api/login_api.py`, `docs/TokenResponse.md`
//! (the flat token response) and `docs/ApiGatewayErrorResponse.md`
//! (`UDAPI100050` for an invalid token).

use super::error::Codes;
use super::http::{required, send, send_for_status, text, Reply};
use super::protocol::{code_or_error, Protocol};
use super::static_ip::{ChangeLock, RegisteredIps};
use super::{
    lifetime_override, CallbackError, Credentials, Grant, LoginAttempt, LoginCode, ProviderClient, ProviderError,
    UserInfo,
};
use crate::config::AccountConfig;
use crate::store::TokenSet;
use crate::Secret;
use serde_json::Value;
use std::collections::HashMap;
use tokentray_core::expiry::upstox_expiry;
use tokentray_core::{ErrorClass, Instant, ProviderKind, Refreshability, TokenMeta};

const UPSTOX: ProviderKind = ProviderKind::Upstox;

/// Upstox's error codes (its error-codes page; `UDAPI100050` for an invalid token).
pub(super) const CODES: Codes = &[
    ("UDAPI100050", ErrorClass::TokenInvalid),
    ("UDAPI100016", ErrorClass::CredentialsWrong),
    ("UDAPI100068", ErrorClass::CredentialsWrong),
    ("UDAPI10005", ErrorClass::RateLimited),
];

pub fn begin_login(account: &AccountConfig, state: String) -> LoginAttempt {
    let mut url = url::Url::parse(&ProviderClient::endpoint(&account.login_base, "/v2/login/authorization/dialog"))
        .expect("login_base is a valid URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &account.api_key)
        .append_pair("redirect_uri", account.redirect_uri.as_str())
        .append_pair("state", &state);
    LoginAttempt::new(url, state)
}

fn error(reply: &Reply) -> ProviderError {
    error_of(UPSTOX, reply)
}

/// `errors[0]`, reading the camelCase field or its snake_case twin.
pub(super) fn error_of(kind: ProviderKind, reply: &Reply) -> ProviderError {
    let first = reply.body.get("errors").and_then(|e| e.get(0));
    let field =
        |camel: &str, snake: &str| first.and_then(|f| text(f, camel).or_else(|| text(f, snake))).map(str::to_owned);
    ProviderError {
        retry_after: reply.retry_after,
        ..ProviderError::from_response(
            kind,
            reply.status,
            field("errorCode", "error_code"),
            field("message", "message").unwrap_or_else(|| "no message".to_owned()),
            CODES,
        )
    }
}

pub async fn exchange(c: &ProviderClient, code: &str, secret: &Secret, now: Instant) -> Result<Grant, ProviderError> {
    let a = c.account();
    let request = c
        .http
        .post(ProviderClient::endpoint(&a.api_base, "/v2/login/authorization/token"))
        .header("Accept", "application/json")
        .form(&[
            ("code", code),
            ("client_id", a.api_key.as_str()),
            ("client_secret", secret.expose()),
            ("redirect_uri", a.redirect_uri.as_str()),
            ("grant_type", "authorization_code"),
        ]);
    token_answer(c, send(UPSTOX, request).await?, now)
}

/// What the token endpoint's answer grants.
pub(super) fn token_answer(c: &ProviderClient, reply: Reply, now: Instant) -> Result<Grant, ProviderError> {
    let a = c.account();
    if !reply.is_success() {
        return Err(error(&reply));
    }
    // The token response is flat, not wrapped in `data`.
    let access = required(UPSTOX, reply.status, &reply.body, "access_token")?;
    let expires_at = lifetime_override(a, now).unwrap_or_else(|| upstox_expiry(now, super::jwt_exp(access)));
    Ok(Grant {
        tokens: TokenSet::access(access),
        meta: TokenMeta { issued_at: now, expires_at, login_at: now, refresh: Refreshability::NotRefreshable },
        user: user(&reply.body),
    })
}

pub(super) fn user(v: &Value) -> UserInfo {
    UserInfo { user_id: text(v, "user_id").map(str::to_owned), user_name: text(v, "user_name").map(str::to_owned) }
}

pub async fn profile(c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
    let request = c
        .http
        .get(ProviderClient::endpoint(&c.account().api_base, "/v2/user/profile"))
        .header("Accept", "application/json")
        .bearer_auth(access.expose());
    profile_answer(send(UPSTOX, request).await?)
}

pub(super) fn profile_answer(reply: Reply) -> Result<UserInfo, ProviderError> {
    if !reply.is_success() {
        return Err(error(&reply));
    }
    let data = reply
        .body
        .get("data")
        .ok_or_else(|| ProviderError::malformed(UPSTOX, reply.status, "the response has no `data`"))?;
    Ok(user(data))
}

pub async fn logout(c: &ProviderClient, access: &Secret) -> Result<(), ProviderError> {
    let request = c
        .http
        .delete(ProviderClient::endpoint(&c.account().api_base, "/v2/logout"))
        .header("Accept", "application/json")
        .bearer_auth(access.expose());
    let reply = send_for_status(UPSTOX, request).await?;
    if reply.is_success() {
        Ok(())
    } else {
        Err(error(&reply))
    }
}

/// `GET /v2/user/ip`: the app's static IPs (upstox.com/developer/api-documentation/get-app-static-ips).
pub async fn registered_ips(c: &ProviderClient, access: &Secret) -> Result<RegisteredIps, ProviderError> {
    let request = c
        .http
        .get(ProviderClient::endpoint(&c.account().api_base, "/v2/user/ip"))
        .header("Accept", "application/json")
        .bearer_auth(access.expose());
    registered_ips_answer(send(UPSTOX, request).await?)
}

pub(super) fn registered_ips_answer(reply: Reply) -> Result<RegisteredIps, ProviderError> {
    if !reply.is_success() {
        return Err(error(&reply));
    }
    let data = reply
        .body
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| ProviderError::malformed(UPSTOX, reply.status, "the response has no `data`"))?;
    let ip = |key: &str| text(data, key).map(str::to_owned).filter(|s| !s.is_empty());
    let change_lock = match text(data, "primary_ip_updated_at") {
        Some(at) => ChangeLock::LastChanged { at: at.chars().take(40).collect() },
        None => ChangeLock::Unknown,
    };
    Ok(RegisteredIps { primary: ip("primary_ip"), secondary: ip("secondary_ip"), change_lock })
}

pub(super) struct Upstox;

#[async_trait::async_trait]
impl Protocol for Upstox {
    async fn begin_login(&self, c: &ProviderClient, _: &Secret, state: String) -> Result<LoginAttempt, ProviderError> {
        Ok(begin_login(c.account(), state))
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

    /// Its description says only a login renews: the client never asks.
    async fn refresh(
        &self,
        _: &ProviderClient,
        _: &TokenSet,
        _: &TokenMeta,
        _: &Credentials,
        _: Instant,
    ) -> Result<Grant, ProviderError> {
        Err(ProviderError::new(UPSTOX, ErrorClass::TokenInvalid, "Upstox tokens cannot be refreshed: log in instead"))
    }

    fn token_answer(&self, c: &ProviderClient, reply: Reply, now: Instant) -> Result<Grant, ProviderError> {
        token_answer(c, reply, now)
    }

    fn profile_answer(&self, _: &ProviderClient, reply: Reply) -> Result<UserInfo, ProviderError> {
        profile_answer(reply)
    }

    async fn validate(&self, c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
        profile(c, access).await
    }

    async fn logout(&self, c: &ProviderClient, tokens: &TokenSet, _: Option<&Secret>) -> Result<(), ProviderError> {
        logout(c, &tokens.access_token).await
    }

    async fn registered_ips(
        &self,
        c: &ProviderClient,
        access: &Secret,
    ) -> Result<Option<RegisteredIps>, ProviderError> {
        registered_ips(c, access).await.map(Some)
    }
}

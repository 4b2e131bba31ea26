//! Angel One SmartAPI, the publisher login: the user logs in on Angel's page
//! (TokenTray never sees a password or TOTP), the redirect brings the JWT and
//! feed token (and a refresh token where Angel sends one), `generateTokens`
//! renews, `getProfile` validates.
//!
//! Every fact, with its source (smartapi-python 1.5.5 `SmartApi/smartConnect.py`,
//! angel-one's JavaScript, Java, .NET and Go SDKs, the SmartAPI forum's staff
//! answers): `docs/providers/angelone.md`.

use super::error::Codes;
use super::http::{required, rotated, send, text, Reply};
use super::protocol::{refresh_token, Protocol};
use super::{
    lifetime_override, CallbackError, Credentials, Grant, LoginAttempt, LoginCode, ProviderClient, ProviderError,
    UserInfo,
};
use crate::config::AccountConfig;
use crate::store::TokenSet;
use crate::Secret;
use serde_json::{json, Value};
use std::collections::HashMap;
use tokentray_core::expiry::{jwt_expiry, ASSUMED_DAILY_LIFETIME};
use tokentray_core::{add_span, ErrorClass, Instant, ProviderKind, Refreshability, TokenMeta};

const ANGEL: ProviderKind = ProviderKind::AngelOne;

/// The SDKs' Exceptions table, and codes seen live (docs/providers/angelone.md).
pub(super) const CODES: Codes = &[
    ("AG8001", ErrorClass::TokenInvalid),
    ("AG8002", ErrorClass::TokenInvalid),
    ("AG8003", ErrorClass::TokenInvalid),
    ("AB1010", ErrorClass::TokenInvalid),
    ("AB1011", ErrorClass::TokenInvalid),
    ("AB8050", ErrorClass::TokenInvalid),
    ("AB8051", ErrorClass::TokenInvalid),
    ("AG8004", ErrorClass::CredentialsWrong),
    ("AB1053", ErrorClass::CredentialsWrong),
    ("AB1004", ErrorClass::Transient),
    ("AB2001", ErrorClass::Transient),
];

pub fn begin_login(account: &AccountConfig, state: String) -> LoginAttempt {
    let mut url = url::Url::parse(&ProviderClient::endpoint(&account.login_base, "/publisher-login"))
        .expect("login_base is a valid URL");
    url.query_pairs_mut().append_pair("api_key", &account.api_key).append_pair("state", &state);
    LoginAttempt::new(url, state)
}

/// The redirect's tokens. Angel may drop `state` (docs/providers/angelone.md),
/// so the caller has checked it when present; the login is tied to the
/// account by the profile call's client code (`exchange`).
pub fn read_callback(query: &HashMap<String, String>) -> Result<LoginCode, CallbackError> {
    let field = |name: &str| query.get(name).filter(|v| !v.is_empty()).map(|v| Secret::new(v.as_str()));
    let code = field("auth_token").ok_or(CallbackError::Missing("auth_token"))?;
    Ok(LoginCode { code, refresh_token: field("refresh_token"), feed_token: field("feed_token") })
}

/// The headers every SmartAPI call carries. The client IP and MAC headers
/// are sent by every SDK but not checked (the SDKs send constants); TokenTray
/// sends loopback values rather than anything that identifies the machine.
fn headers(request: reqwest::RequestBuilder, a: &AccountConfig, access: &Secret) -> reqwest::RequestBuilder {
    request
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .header("X-UserType", "USER")
        .header("X-SourceID", "WEB")
        .header("X-ClientLocalIP", "127.0.0.1")
        .header("X-ClientPublicIP", "127.0.0.1")
        .header("X-MACAddress", "00:00:00:00:00:00")
        .header("X-PrivateKey", &a.api_key)
        .bearer_auth(access.expose())
}

/// Both envelopes: the API's `{"status":false,"errorcode":..}` and the
/// gateway's `{"success":false,"errorCode":"AG8001"}`, which may come with HTTP 200.
fn failed(reply: &Reply) -> bool {
    let b = &reply.body;
    !reply.is_success()
        || b.get("status").and_then(Value::as_bool) == Some(false)
        || b.get("success").and_then(Value::as_bool) == Some(false)
}

fn error(reply: &Reply) -> ProviderError {
    let b = &reply.body;
    let code = text(b, "errorcode").or_else(|| text(b, "errorCode")).filter(|c| !c.is_empty());
    ProviderError {
        retry_after: reply.retry_after,
        ..ProviderError::from_response(
            ANGEL,
            reply.status,
            code.map(str::to_owned),
            text(b, "message").unwrap_or("no message").to_owned(),
            CODES,
        )
    }
}

/// The `data` object of a successful answer.
fn data(reply: Reply) -> Result<Value, ProviderError> {
    if failed(&reply) {
        return Err(error(&reply));
    }
    if reply.body.get("status").and_then(Value::as_bool) != Some(true) {
        return Err(ProviderError::malformed(ANGEL, reply.status, "the response's status is not `true`"));
    }
    match reply.body {
        Value::Object(mut o) => o
            .remove("data")
            .filter(Value::is_object)
            .ok_or_else(|| ProviderError::malformed(ANGEL, reply.status, "the response has no `data` object")),
        _ => Err(ProviderError::malformed(ANGEL, reply.status, "the response is not an object")),
    }
}

/// Staff say a JWT is invalidated after 24 to 28 hours, while publisher
/// tokens have been seen with a `exp` years away: the earlier of the two.
fn expiry(c: &ProviderClient, access: &str, now: Instant) -> Instant {
    let day = add_span(now, ASSUMED_DAILY_LIFETIME);
    lifetime_override(c.account(), now).unwrap_or_else(|| jwt_expiry(now, super::jwt_exp(access), day).min(day))
}

/// With a refresh token, renewal works for "the entire session" (staff), and
/// users log in daily: the countdown runs to a day after the login.
fn grant(c: &ProviderClient, tokens: TokenSet, login_at: Instant, now: Instant, user: UserInfo) -> Grant {
    let refresh = match tokens.refresh_token {
        Some(_) => Refreshability::Until(add_span(login_at, ASSUMED_DAILY_LIFETIME)),
        None => Refreshability::NotRefreshable,
    };
    let meta =
        TokenMeta { issued_at: now, expires_at: expiry(c, tokens.access_token.expose(), now), login_at, refresh };
    Grant { tokens, meta, user }
}

/// No code to exchange: the redirect brought the tokens. They are believed
/// only once Angel's profile call accepts them for this app's key and names
/// this account's client.
pub async fn exchange(c: &ProviderClient, login: &LoginCode, now: Instant) -> Result<Grant, ProviderError> {
    if !super::is_token_text(login.code.expose()) {
        return Err(ProviderError::malformed(ANGEL, 200, "the redirect's auth_token is not a token"));
    }
    // `ProviderClient::exchange` then ties it to the account by the client the profile names.
    let user = profile(c, &login.code).await?;
    let tokens = TokenSet {
        access_token: login.code.clone(),
        refresh_token: login.refresh_token.clone(),
        feed_token: login.feed_token.clone(),
        token_secret: None,
    };
    Ok(grant(c, tokens, now, now, user))
}

/// `generateTokens`: the refresh token (with the current JWT) for new tokens.
pub async fn refresh(
    c: &ProviderClient,
    tokens: &TokenSet,
    refresh_token: &Secret,
    current: &TokenMeta,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let a = c.account();
    let request = headers(
        c.http.post(ProviderClient::endpoint(&a.api_base, "/rest/auth/angelbroking/jwt/v1/generateTokens")),
        a,
        &tokens.access_token,
    )
    .body(json!({ "refreshToken": refresh_token.expose() }).to_string());
    let reply = send(ANGEL, request).await?;
    let mut renewed = token_answer(c, reply, Some(refresh_token), current.login_at, now)?;
    // A renewal that brings no feed token leaves the one we had.
    if renewed.tokens.feed_token.is_none() {
        renewed.tokens.feed_token = tokens.feed_token.clone();
    }
    Ok(renewed)
}

/// What a `generateTokens` answer grants: `data.jwtToken` (no `Bearer `
/// prefix on the wire), `data.refreshToken` (kept from before when absent),
/// `data.feedToken`.
pub(super) fn token_answer(
    c: &ProviderClient,
    reply: Reply,
    previous_refresh: Option<&Secret>,
    login_at: Instant,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let status = reply.status;
    let data = data(reply)?;
    let access = required(ANGEL, status, &data, "jwtToken")?;
    let access = access.strip_prefix("Bearer ").unwrap_or(access);
    let optional = |key: &str| text(&data, key).filter(|t| !t.is_empty()).map(Secret::new);
    let tokens = TokenSet {
        access_token: Secret::new(access),
        refresh_token: rotated(&data, "refreshToken", previous_refresh),
        feed_token: optional("feedToken"),
        token_secret: None,
    };
    Ok(grant(c, tokens, login_at, now, UserInfo::default()))
}

pub async fn profile(c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
    let a = c.account();
    let request = headers(
        c.http.get(ProviderClient::endpoint(&a.api_base, "/rest/secure/angelbroking/user/v1/getProfile")),
        a,
        access,
    );
    profile_answer(send(ANGEL, request).await?)
}

pub(super) fn profile_answer(reply: Reply) -> Result<UserInfo, ProviderError> {
    let status = reply.status;
    let data = data(reply)?;
    let code = required(ANGEL, status, &data, "clientcode")?;
    Ok(UserInfo { user_id: Some(code.to_owned()), user_name: text(&data, "name").map(str::to_owned) })
}

/// Ends the session at Angel (`{"clientcode"}`, with the JWT).
pub async fn logout(c: &ProviderClient, access: &Secret) -> Result<(), ProviderError> {
    let a = c.account();
    let code = a.user_id.as_deref().expect("the config requires user_id for Angel One");
    let request = headers(
        c.http.post(ProviderClient::endpoint(&a.api_base, "/rest/secure/angelbroking/user/v1/logout")),
        a,
        access,
    )
    .body(json!({ "clientcode": code }).to_string());
    let reply = send(ANGEL, request).await?;
    if failed(&reply) {
        return Err(error(&reply));
    }
    Ok(())
}

pub(super) struct AngelOne;

#[async_trait::async_trait]
impl Protocol for AngelOne {
    async fn begin_login(&self, c: &ProviderClient, _: &Secret, state: String) -> Result<LoginAttempt, ProviderError> {
        Ok(begin_login(c.account(), state))
    }

    fn read_callback(&self, query: &HashMap<String, String>) -> Result<LoginCode, CallbackError> {
        read_callback(query)
    }

    async fn exchange(
        &self,
        c: &ProviderClient,
        login: &LoginCode,
        _: &LoginAttempt,
        _: &Secret,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        exchange(c, login, now).await
    }

    async fn refresh(
        &self,
        c: &ProviderClient,
        tokens: &TokenSet,
        current: &TokenMeta,
        _: &Credentials,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        refresh(c, tokens, refresh_token(c, tokens)?, current, now).await
    }

    fn token_answer(&self, c: &ProviderClient, reply: Reply, now: Instant) -> Result<Grant, ProviderError> {
        token_answer(c, reply, None, now, now)
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
}

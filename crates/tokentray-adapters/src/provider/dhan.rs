//! Dhan (DhanHQ API v2), the API-key login: a consent made with the app's
//! key and secret, the user's login on Dhan's page, a token id exchanged
//! for a 24-hour access token, renewal of the live token, and the profile.
//!
//! Every fact, with its source (dhanhq 2.3.0 `dhanhq/auth.py` `DhanLogin`,
//! `dhanhq/dhan_http.py`, and dhanhq.co/docs/v2/authentication): `docs/providers/dhan.md`.

use super::error::Codes;
use super::http::{required, send, text, Reply};
use super::protocol::{code_in, Protocol};
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
use tokentray_core::expiry::{jwt_expiry, parse_ist_datetime, ASSUMED_DAILY_LIFETIME};
use tokentray_core::{add_span, ErrorClass, Instant, ProviderKind, Refreshability, TokenMeta};

const DHAN: ProviderKind = ProviderKind::Dhan;

/// The annexure's codes (docs/providers/dhan.md).
pub(super) const CODES: Codes = &[
    ("DH-901", ErrorClass::TokenInvalid),
    ("DH-902", ErrorClass::CredentialsWrong),
    ("DH-904", ErrorClass::RateLimited),
    ("DH-908", ErrorClass::Transient),
    ("DH-909", ErrorClass::Transient),
];

fn client_id(a: &AccountConfig) -> &str {
    a.user_id.as_deref().expect("the config requires user_id for Dhan")
}

/// The app's key and secret, as the consent calls carry them.
fn app_headers(request: reqwest::RequestBuilder, a: &AccountConfig, secret: &Secret) -> reqwest::RequestBuilder {
    request.header("app_id", &a.api_key).header("app_secret", secret.expose()).header("Accept", "application/json")
}

/// The consent calls carry no user token, only the app's key and secret:
/// a refusal there is the secret's (or the key's) to fix, never a login's.
fn app_refusal(mut e: ProviderError) -> ProviderError {
    if e.class == ErrorClass::TokenInvalid {
        e.class = ErrorClass::CredentialsWrong;
    }
    e
}

/// `{"errorType","errorCode","errorMessage"}` on api.dhan.co; auth.dhan.co's
/// error bodies are not documented, so a `message` or `status` is read too.
fn error(reply: &Reply) -> ProviderError {
    let b = &reply.body;
    let message = text(b, "errorMessage").or_else(|| text(b, "message")).or_else(|| text(b, "remarks"));
    ProviderError {
        retry_after: reply.retry_after,
        ..ProviderError::from_response(
            DHAN,
            reply.status,
            text(b, "errorCode").map(str::to_owned),
            message.unwrap_or("no message").to_owned(),
            CODES,
        )
    }
}

/// Step 1: a consent for this app and client, then the login page for it.
pub async fn begin_login(c: &ProviderClient, secret: &Secret, state: String) -> Result<LoginAttempt, ProviderError> {
    let a = c.account();
    let mut url = url::Url::parse(&ProviderClient::endpoint(&a.login_base, "/app/generate-consent"))
        .expect("login_base is a valid URL");
    url.query_pairs_mut().append_pair("client_id", client_id(a));
    let reply = send(DHAN, app_headers(c.http.post(url), a, secret)).await?;
    let consent = consent_answer(reply).map_err(app_refusal)?;
    let mut url = url::Url::parse(&ProviderClient::endpoint(&a.login_base, "/login/consentApp-login"))
        .expect("login_base is a valid URL");
    url.query_pairs_mut().append_pair("consentAppId", &consent);
    Ok(LoginAttempt::new(url, state))
}

/// The consent id of a `generate-consent` answer (`"status":"success"`, as the SDK demands).
pub(super) fn consent_answer(reply: Reply) -> Result<String, ProviderError> {
    if !reply.is_success() {
        return Err(error(&reply));
    }
    if text(&reply.body, "status") != Some("success") {
        return Err(match text(&reply.body, "errorCode") {
            Some(_) => error(&reply),
            None => ProviderError::malformed(DHAN, reply.status, "the consent answer's status is not `success`"),
        });
    }
    let id = required(DHAN, reply.status, &reply.body, "consentAppId")?;
    // It goes into a URL the browser opens: only an id's characters.
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') || id.len() > 128 {
        return Err(ProviderError::malformed(DHAN, reply.status, "the consentAppId is not an id"));
    }
    Ok(id.to_owned())
}

/// Step 3: the redirect's token id for the access token.
pub async fn exchange(
    c: &ProviderClient,
    token_id: &str,
    secret: &Secret,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let a = c.account();
    let request =
        app_headers(c.http.get(ProviderClient::endpoint(&a.login_base, "/app/consumeApp-consent")), a, secret)
            .query(&[("tokenId", token_id)]);
    // The redirect carries no state: `ProviderClient::exchange` ties the
    // token to the account by the client id this answer names.
    token_answer(c, send(DHAN, request).await?, now, now).map_err(app_refusal)
}

/// The answer of `consumeApp-consent`, or of `RenewToken`, whose fields are
/// undocumented: the token is looked for as `accessToken` or `token`, at the
/// top or under `data`, as the clients that renew read it. Renewal ends the
/// old token, so an answer whose token cannot be found is logged by its
/// field names (never its values) for the next version to read.
pub(super) fn token_answer(
    c: &ProviderClient,
    reply: Reply,
    login_at: Instant,
    now: Instant,
) -> Result<Grant, ProviderError> {
    if !reply.is_success() || text(&reply.body, "errorCode").is_some() {
        return Err(error(&reply));
    }
    let b = reply.body.get("data").filter(|d| token_in(d).is_some()).unwrap_or(&reply.body);
    let Some(access) = token_in(b) else {
        let fields: Vec<&str> =
            reply.body.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        tracing::warn!(provider = %DHAN, ?fields, "a token answer without a token where TokenTray looks for one");
        return Err(ProviderError::malformed(DHAN, reply.status, "the response has no `accessToken`"));
    };
    let fallback = text(b, "expiryTime")
        .and_then(parse_ist_datetime)
        .filter(|&at| at > now)
        .unwrap_or_else(|| add_span(now, ASSUMED_DAILY_LIFETIME));
    let expires_at =
        lifetime_override(c.account(), now).unwrap_or_else(|| jwt_expiry(now, super::jwt_exp(access), fallback));
    Ok(Grant {
        tokens: TokenSet::access(access),
        meta: TokenMeta { issued_at: now, expires_at, login_at, refresh: Refreshability::WhileValid },
        user: user(b),
    })
}

/// Where a Dhan answer may hold its token.
fn token_in(v: &Value) -> Option<&str> {
    text(v, "accessToken").or_else(|| text(v, "token")).filter(|t| !t.is_empty())
}

fn user(b: &Value) -> UserInfo {
    UserInfo {
        user_id: text(b, "dhanClientId").map(str::to_owned),
        user_name: text(b, "dhanClientName").map(str::to_owned),
    }
}

/// `RenewToken`: the live token for a new one with another 24 hours; the old one ends.
pub async fn renew(
    c: &ProviderClient,
    tokens: &TokenSet,
    current: &TokenMeta,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let a = c.account();
    let request = c
        .http
        .get(ProviderClient::endpoint(&a.api_base, "/v2/RenewToken"))
        .header("access-token", tokens.access_token.expose())
        .header("dhanClientId", client_id(a))
        .header("Accept", "application/json");
    let mut grant = token_answer(c, send(DHAN, request).await?, current.login_at, now)?;
    grant.user.user_id.get_or_insert_with(|| client_id(a).to_owned());
    Ok(grant)
}

pub async fn profile(c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
    let a = c.account();
    let request = c
        .http
        .get(ProviderClient::endpoint(&a.api_base, "/v2/profile"))
        .header("access-token", access.expose())
        .header("dhanClientId", client_id(a))
        .header("Accept", "application/json");
    profile_answer(send(DHAN, request).await?)
}

pub(super) fn profile_answer(reply: Reply) -> Result<UserInfo, ProviderError> {
    if !reply.is_success() || text(&reply.body, "errorCode").is_some() {
        return Err(error(&reply));
    }
    required(DHAN, reply.status, &reply.body, "dhanClientId")?;
    Ok(user(&reply.body))
}

/// `GET /v2/ip/getIP`: the static IPs and the date each may next be
/// changed (dhanhq.co/docs/v2/authentication, "Setup Static IP").
pub async fn registered_ips(c: &ProviderClient, access: &Secret) -> Result<RegisteredIps, ProviderError> {
    let a = c.account();
    let request = c
        .http
        .get(ProviderClient::endpoint(&a.api_base, "/v2/ip/getIP"))
        .header("access-token", access.expose())
        .header("client-id", client_id(a))
        .header("Accept", "application/json");
    registered_ips_answer(send(DHAN, request).await?)
}

pub(super) fn registered_ips_answer(reply: Reply) -> Result<RegisteredIps, ProviderError> {
    if !reply.is_success() || text(&reply.body, "errorCode").is_some() {
        return Err(error(&reply));
    }
    if !reply.body.is_object() {
        return Err(ProviderError::malformed(DHAN, reply.status, "the response is not an object"));
    }
    let ip = |key: &str| text(&reply.body, key).map(str::to_owned).filter(|s| !s.is_empty());
    let change_lock = text(&reply.body, "modifyDatePrimary")
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map_or(ChangeLock::Unknown, |date| ChangeLock::AllowedFrom { date });
    Ok(RegisteredIps { primary: ip("primaryIP"), secondary: ip("secondaryIP"), change_lock })
}

pub(super) struct Dhan;

#[async_trait::async_trait]
impl Protocol for Dhan {
    async fn begin_login(
        &self,
        c: &ProviderClient,
        secret: &Secret,
        state: String,
    ) -> Result<LoginAttempt, ProviderError> {
        begin_login(c, secret, state).await
    }

    /// Dhan's documented redirect: `{redirect_URL}/?tokenId=...`.
    fn read_callback(&self, query: &HashMap<String, String>) -> Result<LoginCode, CallbackError> {
        code_in(query, "tokenId")
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

    /// The live access token renews itself: there is no refresh token.
    async fn refresh(
        &self,
        c: &ProviderClient,
        tokens: &TokenSet,
        current: &TokenMeta,
        _: &Credentials,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        renew(c, tokens, current, now).await
    }

    fn token_answer(&self, c: &ProviderClient, reply: Reply, now: Instant) -> Result<Grant, ProviderError> {
        token_answer(c, reply, now, now)
    }

    fn profile_answer(&self, _: &ProviderClient, reply: Reply) -> Result<UserInfo, ProviderError> {
        profile_answer(reply)
    }

    async fn validate(&self, c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
        profile(c, access).await
    }

    /// Dhan has no logout call: the token dies at its expiry.
    async fn logout(&self, _: &ProviderClient, _: &TokenSet, _: Option<&Secret>) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn registered_ips(
        &self,
        c: &ProviderClient,
        access: &Secret,
    ) -> Result<Option<RegisteredIps>, ProviderError> {
        registered_ips(c, access).await.map(Some)
    }
}

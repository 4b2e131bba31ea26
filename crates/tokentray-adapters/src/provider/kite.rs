//! Kite Connect v3.
//!
//! Sources: Kite Connect v3 docs, "User" page (<https://kite.trade/docs/connect/v3/user/>);
//! zerodha/pykiteconnect `kiteconnect/connect.py` (checksum, `X-Kite-Version: 3`,
//! session and logout calls); zerodha/gokiteconnect `errors.go` (the error types,
//! `TokenException` on a dead token); zerodha/kiteconnect-mocks
//! `generate_session.json` (the session response).

use super::error::Codes;
use super::http::{required, rotated, send, send_for_status, text, Reply};
use super::protocol::{refresh_token, Protocol};
use super::{
    lifetime_override, CallbackError, Credentials, Grant, LoginAttempt, LoginCode, ProviderClient, ProviderError,
    UserInfo,
};
use crate::config::AccountConfig;
use crate::store::TokenSet;
use crate::Secret;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tokentray_core::expiry::{kite_expiry, parse_kite_login_time};
use tokentray_core::{ErrorClass, Instant, ProviderKind, Refreshability, TokenMeta};

const KITE: ProviderKind = ProviderKind::Kite;

/// Kite's `error_type`s (zerodha/gokiteconnect `errors.go`).
pub(super) const CODES: Codes = &[
    ("TokenException", ErrorClass::TokenInvalid),
    ("PermissionException", ErrorClass::CredentialsWrong),
    ("InputException", ErrorClass::CredentialsWrong),
    ("NetworkException", ErrorClass::Transient),
    ("DataException", ErrorClass::Transient),
    ("GeneralException", ErrorClass::Transient),
];
const VERSION: (&str, &str) = ("X-Kite-Version", "3");

/// `hex(sha256(api_key + token + api_secret))`, for both the session exchange
/// (token = request_token) and the renewal (token = refresh_token).
pub fn checksum(api_key: &str, token: &str, api_secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(api_key.as_bytes());
    h.update(token.as_bytes());
    h.update(api_secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn begin_login(account: &AccountConfig, state: String) -> LoginAttempt {
    let mut url = url::Url::parse(&ProviderClient::endpoint(&account.login_base, "/connect/login"))
        .expect("login_base is a valid URL");
    // Kite echoes `redirect_params` back to the redirect URL: it carries our state.
    let redirect_params = url::form_urlencoded::Serializer::new(String::new()).append_pair("state", &state).finish();
    url.query_pairs_mut()
        .append_pair("v", "3")
        .append_pair("api_key", &account.api_key)
        .append_pair("redirect_params", &redirect_params);
    LoginAttempt::new(url, state)
}

fn error(reply: &Reply) -> ProviderError {
    let message = text(&reply.body, "message").unwrap_or("no message").to_owned();
    let mut e = ProviderError::from_response(
        KITE,
        reply.status,
        text(&reply.body, "error_type").map(str::to_owned),
        message,
        CODES,
    );
    e.retry_after = reply.retry_after;
    // Kite reports a bad checksum as a TokenException, but the checksum only
    // fails when the api_secret is wrong: a login will not fix that, the secret will.
    if e.message.contains("checksum") {
        e.class = ErrorClass::CredentialsWrong;
    }
    e
}

/// The `data` of a `{"status":"success","data":{...}}` answer.
fn data(reply: Reply) -> Result<Value, ProviderError> {
    if !reply.is_success() || text(&reply.body, "status") != Some("success") {
        return Err(if reply.is_success() {
            ProviderError::malformed(KITE, reply.status, "the response's status is not `success`")
        } else {
            error(&reply)
        });
    }
    match reply.body {
        Value::Object(mut o) => o
            .remove("data")
            .filter(Value::is_object)
            .ok_or_else(|| ProviderError::malformed(KITE, reply.status, "the response has no `data` object")),
        _ => Err(ProviderError::malformed(KITE, reply.status, "the response is not an object")),
    }
}

/// What a session call's answer grants: the exchange's (no previous refresh
/// token, the login time from the answer) or a renewal's.
pub(super) fn session_answer(
    c: &ProviderClient,
    reply: Reply,
    previous_refresh: Option<&Secret>,
    login_at: Option<Instant>,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let data = &data(reply)?;
    let access = required(KITE, 200, data, "access_token")?;
    let refresh = rotated(data, "refresh_token", previous_refresh);
    let login_at = login_at.or_else(|| text(data, "login_time").and_then(parse_kite_login_time)).unwrap_or(now);
    let meta = TokenMeta {
        issued_at: now,
        expires_at: lifetime_override(c.account(), now).unwrap_or_else(|| kite_expiry(now.max(login_at))),
        login_at,
        refresh: if refresh.is_some() { Refreshability::Unbounded } else { Refreshability::NotRefreshable },
    };
    Ok(Grant {
        tokens: TokenSet {
            access_token: Secret::new(access),
            refresh_token: refresh,
            feed_token: None,
            token_secret: None,
        },
        meta,
        user: user(data),
    })
}

fn user(data: &Value) -> UserInfo {
    UserInfo {
        user_id: text(data, "user_id").map(str::to_owned),
        user_name: text(data, "user_name").map(str::to_owned),
    }
}

pub async fn exchange(
    c: &ProviderClient,
    request_token: &str,
    secret: &Secret,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let reply = session_call(c, "/session/token", ("request_token", request_token), secret).await?;
    session_answer(c, reply, None, None, now)
}

pub async fn refresh(
    c: &ProviderClient,
    refresh_token: &Secret,
    current: &TokenMeta,
    secret: &Secret,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let reply = session_call(c, "/session/refresh_token", ("refresh_token", refresh_token.expose()), secret).await?;
    session_answer(c, reply, Some(refresh_token), Some(current.login_at), now)
}

/// A session call: the api key, a token (`field`), and their checksum with
/// the api secret, which is what proves the app's identity to Kite.
async fn session_call(
    c: &ProviderClient,
    path: &str,
    (field, token): (&str, &str),
    secret: &Secret,
) -> Result<Reply, ProviderError> {
    let a = c.account();
    let sum = checksum(&a.api_key, token, secret.expose());
    let request = c.http.post(ProviderClient::endpoint(&a.api_base, path)).header(VERSION.0, VERSION.1).form(&[
        ("api_key", a.api_key.as_str()),
        (field, token),
        ("checksum", &sum),
    ]);
    send(KITE, request).await
}

fn authorization(a: &AccountConfig, access: &Secret) -> String {
    format!("token {}:{}", a.api_key, access.expose())
}

pub async fn profile(c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
    let a = c.account();
    let request = c
        .http
        .get(ProviderClient::endpoint(&a.api_base, "/user/profile"))
        .header(VERSION.0, VERSION.1)
        .header("Authorization", authorization(a, access));
    profile_answer(send(KITE, request).await?)
}

pub(super) fn profile_answer(reply: Reply) -> Result<UserInfo, ProviderError> {
    Ok(user(&data(reply)?))
}

pub async fn logout(c: &ProviderClient, access: &Secret) -> Result<(), ProviderError> {
    let a = c.account();
    let request = c
        .http
        .delete(ProviderClient::endpoint(&a.api_base, "/session/token"))
        .header(VERSION.0, VERSION.1)
        .header("Authorization", authorization(a, access))
        .query(&[("api_key", a.api_key.as_str()), ("access_token", access.expose())]);
    let reply = send_for_status(KITE, request).await?;
    if reply.is_success() {
        Ok(())
    } else {
        Err(error(&reply))
    }
}

pub(super) struct Kite;

#[async_trait::async_trait]
impl Protocol for Kite {
    async fn begin_login(&self, c: &ProviderClient, _: &Secret, state: String) -> Result<LoginAttempt, ProviderError> {
        Ok(begin_login(c.account(), state))
    }

    /// `status=success&request_token=...`; any other status is Kite refusing the login.
    fn read_callback(&self, query: &HashMap<String, String>) -> Result<super::LoginCode, CallbackError> {
        let status = query.get("status").map(String::as_str);
        if status != Some("success") {
            return Err(CallbackError::Denied(format!("status={}", status.unwrap_or("missing"))));
        }
        super::protocol::code_in(query, "request_token")
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
        session_answer(c, reply, None, None, now)
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

//! ICICI Direct Breeze: the browser login on api.icicidirect.com hands the
//! app an API session, which the customer-details call turns into a session
//! token; both last the day (until midnight IST). No renewal, no logout.
//!
//! Every fact, with its source (the Breeze API documentation at
//! api.icicidirect.com/breezeapi/documents; Idirect-Tech/Breeze-Python-SDK
//! `breeze_connect/breeze_connect.py`; ICICI Direct's FAQ on the 2026 static
//! IP rule): `docs/providers/breeze.md`.

use super::error::Codes;
use super::http::{required, send, text, Reply};
use super::protocol::{code_in, Protocol};
use super::{
    lifetime_override, CallbackError, Credentials, Grant, LoginAttempt, LoginCode, ProviderClient, ProviderError,
    UserInfo,
};
use crate::store::TokenSet;
use crate::Secret;
use serde_json::json;
use std::collections::HashMap;
use tokentray_core::expiry::BREEZE_CUTOFF;
use tokentray_core::{ErrorClass, Instant, ProviderKind, Refreshability, TokenMeta};

const BREEZE: ProviderKind = ProviderKind::Breeze;

/// Breeze answers with words, not codes: these are read as its codes.
pub(super) const CODES: Codes = &[
    ("Resource not available.", ErrorClass::TokenInvalid),
    ("Invalid session.", ErrorClass::TokenInvalid),
    ("Session key is expired.", ErrorClass::TokenInvalid),
    ("Public Key does not exist.", ErrorClass::CredentialsWrong),
    ("AppKey does not exist.", ErrorClass::CredentialsWrong),
];

/// `{"Success": ..., "Status": 500, "Error": "Resource not available."}`:
/// the body's `Status` is the answer's, whatever HTTP said.
fn error(reply: &Reply) -> ProviderError {
    let b = &reply.body;
    let said = text(b, "Error").map(str::to_owned);
    let class_word = said.as_ref().and_then(|w| CODES.iter().find(|(c, _)| w.trim() == *c).map(|(c, _)| c.to_string()));
    // A dead session is `"Status": 500` with its words: the words decide.
    // Other words with a 5xx (in the body or over HTTP) are an outage.
    let body_status = b.get("Status").and_then(serde_json::Value::as_u64).and_then(|s| u16::try_from(s).ok());
    let status = match class_word {
        Some(_) => reply.status.min(499),
        None => body_status.filter(|_| reply.is_success()).unwrap_or(reply.status),
    };
    let message = said.unwrap_or_else(|| "no message".to_owned());
    ProviderError {
        retry_after: reply.retry_after,
        ..ProviderError::from_response(BREEZE, status, class_word, message, CODES)
    }
}

/// `/apiuser/login?api_key=...`: ICICI's login page, which sends the
/// browser to the app's redirect URL with `apisession`.
pub fn begin_login(c: &ProviderClient, state: String) -> LoginAttempt {
    let a = c.account();
    let mut url =
        url::Url::parse(&ProviderClient::endpoint(&a.login_base, "/apiuser/login")).expect("login_base is a valid URL");
    url.query_pairs_mut().append_pair("api_key", &a.api_key);
    LoginAttempt::new(url, state)
}

/// `GET /breezeapi/api/v1/customerdetails` with a JSON body, as the SDK's
/// `generate_session` sends it: it needs only the session and the app key.
async fn customer_details(c: &ProviderClient, session: &Secret) -> Result<Reply, ProviderError> {
    let a = c.account();
    let request = c
        .http
        .get(ProviderClient::endpoint(&a.api_base, "/breezeapi/api/v1/customerdetails"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(json!({ "SessionToken": session.expose(), "AppKey": a.api_key }).to_string());
    send(BREEZE, request).await
}

fn succeeded(reply: &Reply) -> Option<&serde_json::Value> {
    let status_ok = reply.body.get("Status").and_then(serde_json::Value::as_u64).is_none_or(|s| s == 200);
    let no_error = reply.body.get("Error").is_none_or(serde_json::Value::is_null);
    (reply.is_success() && status_ok && no_error).then(|| reply.body.get("Success")).flatten().filter(|s| s.is_object())
}

fn user(success: &serde_json::Value) -> UserInfo {
    UserInfo {
        user_id: text(success, "idirect_userid").map(str::to_owned),
        user_name: text(success, "idirect_user_name").map(str::to_owned),
    }
}

/// The login's answer: the API session is the token scripts hand to their
/// SDK (`generate_session(api_secret, session_token=...)`); it lasts until
/// the next midnight IST.
fn session_grant(c: &ProviderClient, session: &Secret, reply: Reply, now: Instant) -> Result<Grant, ProviderError> {
    let Some(success) = succeeded(&reply) else {
        return Err(match reply.body.get("Error").is_some_and(|e| !e.is_null()) || !reply.is_success() {
            true => error(&reply),
            false => ProviderError::malformed(BREEZE, reply.status, "the response has no `Success`"),
        });
    };
    required(BREEZE, reply.status, success, "session_token")?;
    // A configured lifetime never carries a session past ICICI's midnight.
    let midnight = BREEZE_CUTOFF.next_after(now);
    let expires_at = lifetime_override(c.account(), now).map_or(midnight, |t| t.min(midnight));
    Ok(Grant {
        tokens: TokenSet::access(session.expose()),
        meta: TokenMeta { issued_at: now, expires_at, login_at: now, refresh: Refreshability::NotRefreshable },
        user: user(success),
    })
}

pub(super) struct Breeze;

#[async_trait::async_trait]
impl Protocol for Breeze {
    async fn begin_login(&self, c: &ProviderClient, _: &Secret, state: String) -> Result<LoginAttempt, ProviderError> {
        Ok(begin_login(c, state))
    }

    /// The redirect carries `apisession` and no state: the exchange ties the
    /// session to the account by the user id ICICI names.
    fn read_callback(&self, query: &HashMap<String, String>) -> Result<LoginCode, CallbackError> {
        code_in(query, "apisession")
    }

    async fn exchange(
        &self,
        c: &ProviderClient,
        login: &LoginCode,
        _: &LoginAttempt,
        _: &Secret,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        let reply = customer_details(c, &login.code).await?;
        session_grant(c, &login.code, reply, now)
    }

    async fn refresh(
        &self,
        _: &ProviderClient,
        _: &TokenSet,
        _: &TokenMeta,
        _: &Credentials,
        _: Instant,
    ) -> Result<Grant, ProviderError> {
        Err(ProviderError::new(BREEZE, ErrorClass::TokenInvalid, "Breeze sessions cannot be renewed: log in instead"))
    }

    /// A login's answer, read without I/O (the session itself is not in it).
    fn token_answer(&self, c: &ProviderClient, reply: Reply, now: Instant) -> Result<Grant, ProviderError> {
        let session = succeeded(&reply).and_then(|s| text(s, "session_token")).map(Secret::new);
        let session = session.unwrap_or_else(|| Secret::new("-"));
        session_grant(c, &session, reply, now)
    }

    fn profile_answer(&self, _: &ProviderClient, reply: Reply) -> Result<UserInfo, ProviderError> {
        match succeeded(&reply) {
            Some(success) => {
                required(BREEZE, reply.status, success, "session_token")?;
                Ok(user(success))
            }
            None if reply.body.get("Error").is_some_and(|e| !e.is_null()) || !reply.is_success() => Err(error(&reply)),
            None => Err(ProviderError::malformed(BREEZE, reply.status, "the response has no `Success`")),
        }
    }

    async fn validate(&self, c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
        let reply = customer_details(c, access).await?;
        self.profile_answer(c, reply)
    }

    /// Breeze has no logout call: the session ends at midnight.
    async fn logout(&self, _: &ProviderClient, _: &TokenSet, _: Option<&Secret>) -> Result<(), ProviderError> {
        Ok(())
    }
}

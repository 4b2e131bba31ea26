//! E*TRADE, OAuth 1.0a: a request token, the user's authorization on
//! us.etrade.com (a verification code shown to copy, or a redirect to a
//! callback E*TRADE registered for the key), then the access token and its
//! secret. Every request is signed (HMAC-SHA1, by `oauth1-request`). Tokens
//! die at midnight US Eastern and go inactive after two idle hours;
//! `renew_access_token` wakes them without a new login.
//!
//! Every fact, with its source (E*TRADE's developer guide, Authorization
//! API; jessecooper/pyetrade `pyetrade/authorization.py`; its issues 38 and
//! 52 on expired consumer keys): `docs/providers/etrade.md`.

use super::error::Codes;
use super::http::{read_reply, send_raw, Reply};
use super::protocol::{code_in, Protocol};
use super::{
    lifetime_override, CallbackError, Credentials, Grant, LoginAttempt, LoginCode, ProviderClient, ProviderError,
    UserInfo,
};
use crate::store::TokenSet;
use crate::Secret;
use std::collections::HashMap;
use tokentray_core::expiry::{etrade_expiry, new_york_midnight_after};
use tokentray_core::{ErrorClass, Instant, ProviderKind, Refreshability, TokenMeta};

const ETRADE: ProviderKind = ProviderKind::Etrade;

/// The `oauth_problem` values E*TRADE answers with (none is officially listed;
/// these are the ones its users and SDKs have met).
pub(super) const CODES: Codes = &[
    ("token_expired", ErrorClass::TokenInvalid),
    ("token_rejected", ErrorClass::TokenInvalid),
    ("token_revoked", ErrorClass::TokenInvalid),
    // A mistyped verification code: the login waits for the right one.
    ("verifier_invalid", ErrorClass::TokenInvalid),
    ("consumer_key_rejected", ErrorClass::CredentialsWrong),
    ("consumer_key_unknown", ErrorClass::CredentialsWrong),
    ("signature_invalid", ErrorClass::CredentialsWrong),
    ("nonce_used", ErrorClass::Transient),
    ("timestamp_refused", ErrorClass::Transient),
];

/// A consumer key's life, said wherever E*TRADE refuses one.
const KEY_EXPIRY_HINT: &str = "E*TRADE consumer keys stop working two years after they are issued: if this key is \
                               that old, ask E*TRADE for a new one and put it in api_key";

/// An answer's status and text, as the OAuth endpoints send it (form-encoded
/// on success, a page or `oauth_problem=...` on failure).
struct Answer {
    status: u16,
    retry_after: Option<std::time::Duration>,
    text: String,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.text.trim().as_bytes()).into_owned().collect()
    }
}

async fn call(request: reqwest::RequestBuilder) -> Result<Answer, ProviderError> {
    let (status, retry_after, bytes) = send_raw(ETRADE, request).await?;
    Ok(Answer { status, retry_after, text: String::from_utf8_lossy(&bytes).into_owned() })
}

/// `oauth_problem=...` wherever it is in the answer (a header-style line,
/// a JSON `Error.message`, an HTML page), or the answer's status alone.
fn error(a: &Answer) -> ProviderError {
    let problem = a
        .text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '='))
        .find_map(|w| w.strip_prefix("oauth_problem=").filter(|p| !p.is_empty()).map(str::to_owned));
    let mut message = match &problem {
        Some(p) => format!("oauth_problem={p}"),
        None => "no message".to_owned(),
    };
    if CODES.iter().any(|(c, class)| Some(*c) == problem.as_deref() && *class == ErrorClass::CredentialsWrong) {
        message = format!("{message}; {KEY_EXPIRY_HINT}");
    }
    ProviderError {
        retry_after: a.retry_after,
        ..ProviderError::from_response(ETRADE, a.status, problem, message, CODES)
    }
}

/// The signer for the app, with a token where the call carries one.
fn signer<'a>(
    api_key: &'a str,
    secret: &'a Secret,
    token: Option<(&'a str, &'a str)>,
) -> oauth1_request::Builder<'a, oauth1_request::HmacSha1, &'a str> {
    let mut b = oauth1_request::Builder::new(
        oauth1_request::Credentials::new(api_key, secret.expose()),
        oauth1_request::HMAC_SHA1,
    );
    b.token(token.map(|(t, s)| oauth1_request::Credentials::new(t, s)));
    b
}

fn get(c: &ProviderClient, url: &str, authorization: String) -> reqwest::RequestBuilder {
    c.http.get(url).header("Authorization", authorization)
}

/// Step 1: a request token (5 minutes), then E*TRADE's authorize page for it.
pub async fn begin_login(c: &ProviderClient, secret: &Secret) -> Result<LoginAttempt, ProviderError> {
    let a = c.account();
    let url = ProviderClient::endpoint(&a.api_base, "/oauth/request_token");
    let mut s = signer(&a.api_key, secret, None);
    // E*TRADE takes `oob` only; a callback it registered for the key, if any, is its own setting.
    s.callback("oob");
    let answer = call(get(c, &url, s.get(&url, &()))).await?;
    if !answer.ok() {
        return Err(error(&answer));
    }
    let form = answer.form();
    let token = form.get("oauth_token").filter(|t| !t.is_empty());
    let token_secret = form.get("oauth_token_secret").filter(|t| !t.is_empty());
    let (Some(token), Some(token_secret)) = (token, token_secret) else {
        return Err(ProviderError::malformed(ETRADE, answer.status, "the request-token answer has no oauth_token"));
    };
    let mut authorize = url::Url::parse(&ProviderClient::endpoint(&a.login_base, "/e/t/etws/authorize"))
        .expect("login_base is a valid URL");
    authorize.query_pairs_mut().append_pair("key", &a.api_key).append_pair("token", token);
    Ok(LoginAttempt {
        request_token_secret: Some(Secret::new(token_secret)),
        // The request token is what a redirect echoes (`oauth_token`): it is the login's state.
        ..LoginAttempt::new(authorize, token.clone())
    })
}

/// The access token's answer: the token and its secret, alive until
/// midnight in New York and for two idle hours.
fn token_grant(answer: &Answer, login_at: Instant, c: &ProviderClient, now: Instant) -> Result<Grant, ProviderError> {
    if !answer.ok() {
        return Err(error(answer));
    }
    let form = answer.form();
    let field = |k: &str| form.get(k).filter(|v| !v.is_empty()).map(Secret::new);
    let (Some(token), Some(token_secret)) = (field("oauth_token"), field("oauth_token_secret")) else {
        return Err(ProviderError::malformed(ETRADE, answer.status, "the access-token answer has no oauth_token"));
    };
    Ok(Grant {
        tokens: TokenSet { token_secret: Some(token_secret), ..TokenSet::access(token.expose()) },
        meta: meta(c, login_at, now),
        user: UserInfo::default(),
    })
}

/// Renewal keeps a token awake until midnight, whatever the hour: in its
/// last two hours a renewal changes nothing but is never refused (the
/// lifecycle keeps renewals 5 s apart at the least).
fn meta(c: &ProviderClient, login_at: Instant, now: Instant) -> TokenMeta {
    let midnight = new_york_midnight_after(now);
    // A configured lifetime never carries a token past E*TRADE's midnight.
    let expires_at = lifetime_override(c.account(), now).map_or_else(|| etrade_expiry(now), |t| t.min(midnight));
    TokenMeta { issued_at: now, expires_at, login_at, refresh: Refreshability::Until(midnight) }
}

/// Step 3: the verifier for the access token, signed with the request token.
async fn exchange(
    c: &ProviderClient,
    verifier: &str,
    attempt: &LoginAttempt,
    secret: &Secret,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let a = c.account();
    let request_secret = attempt.request_token_secret.as_ref().map_or("", |s| s.expose());
    let url = ProviderClient::endpoint(&a.api_base, "/oauth/access_token");
    let mut s = signer(&a.api_key, secret, Some((&attempt.state, request_secret)));
    s.verifier(verifier);
    let answer = call(get(c, &url, s.get(&url, &()))).await?;
    token_grant(&answer, now, c, now)
}

fn token_pair(tokens: &TokenSet) -> (&str, &str) {
    (tokens.access_token.expose(), tokens.token_secret.as_ref().map_or("", |s| s.expose()))
}

/// `renew_access_token`: the same token, awake and good until midnight.
async fn renew(
    c: &ProviderClient,
    tokens: &TokenSet,
    current: &TokenMeta,
    secret: &Secret,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let a = c.account();
    let url = ProviderClient::endpoint(&a.api_base, "/oauth/renew_access_token");
    let answer = call(get(c, &url, signer(&a.api_key, secret, Some(token_pair(tokens))).get(&url, &()))).await?;
    if !answer.ok() {
        return Err(error(&answer));
    }
    Ok(Grant { tokens: tokens.clone(), meta: meta(c, current.login_at, now), user: UserInfo::default() })
}

/// `GET /v1/accounts/list.json`: the cheapest signed call (and a wake-up).
async fn accounts(c: &ProviderClient, tokens: &TokenSet, secret: &Secret) -> Result<UserInfo, ProviderError> {
    let a = c.account();
    let url = ProviderClient::endpoint(&a.api_base, "/v1/accounts/list.json");
    let request = get(c, &url, signer(&a.api_key, secret, Some(token_pair(tokens))).get(&url, &()))
        .header("Accept", "application/json");
    let answer = call(request).await?;
    if !answer.ok() {
        return Err(error(&answer));
    }
    profile_answer(read_reply(ETRADE, answer.status, answer.retry_after, answer.text.as_bytes())?)
}

pub(super) fn profile_answer(reply: Reply) -> Result<UserInfo, ProviderError> {
    if !reply.is_success() {
        let text = reply.body.pointer("/Error/message").and_then(|m| m.as_str()).unwrap_or_default();
        return Err(error(&Answer { status: reply.status, retry_after: reply.retry_after, text: text.to_owned() }));
    }
    if reply.body.get("AccountListResponse").is_none() {
        return Err(ProviderError::malformed(ETRADE, reply.status, "the response has no `AccountListResponse`"));
    }
    Ok(UserInfo::default())
}

pub(super) struct Etrade;

#[async_trait::async_trait]
impl Protocol for Etrade {
    async fn begin_login(&self, c: &ProviderClient, secret: &Secret, _: String) -> Result<LoginAttempt, ProviderError> {
        begin_login(c, secret).await
    }

    /// A callback E*TRADE registered for the key brings `oauth_verifier`
    /// (and the request token); a typed code arrives in the same field.
    fn read_callback(&self, query: &HashMap<String, String>) -> Result<LoginCode, CallbackError> {
        code_in(query, "oauth_verifier")
    }

    async fn exchange(
        &self,
        c: &ProviderClient,
        login: &LoginCode,
        attempt: &LoginAttempt,
        secret: &Secret,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        exchange(c, login.code.expose(), attempt, secret, now).await
    }

    async fn refresh(
        &self,
        c: &ProviderClient,
        tokens: &TokenSet,
        current: &TokenMeta,
        credentials: &Credentials,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        renew(c, tokens, current, &credentials.secret, now).await
    }

    /// An access-token answer, read without I/O (form-encoded text).
    fn token_answer(&self, c: &ProviderClient, reply: Reply, now: Instant) -> Result<Grant, ProviderError> {
        let text = reply.body.as_str().unwrap_or_default().to_owned();
        token_grant(&Answer { status: reply.status, retry_after: reply.retry_after, text }, now, c, now)
    }

    fn profile_answer(&self, _: &ProviderClient, reply: Reply) -> Result<UserInfo, ProviderError> {
        profile_answer(reply)
    }

    /// Every call is signed with the consumer secret and the token secret
    /// too: a check from the access token alone cannot be made.
    async fn validate(&self, c: &ProviderClient, _: &Secret) -> Result<UserInfo, ProviderError> {
        Err(ProviderError::new(
            c.kind(),
            ErrorClass::CredentialsWrong,
            "an E*TRADE check is signed with the consumer secret: store it with `tokentray secret set ACCOUNT`",
        ))
    }

    async fn validate_signed(
        &self,
        c: &ProviderClient,
        tokens: &TokenSet,
        secret: &Secret,
    ) -> Result<UserInfo, ProviderError> {
        accounts(c, tokens, secret).await
    }

    /// `revoke_access_token`.
    async fn logout(
        &self,
        c: &ProviderClient,
        tokens: &TokenSet,
        secret: Option<&Secret>,
    ) -> Result<(), ProviderError> {
        let a = c.account();
        let empty = Secret::new("");
        let secret = secret.unwrap_or(&empty);
        let url = ProviderClient::endpoint(&a.api_base, "/oauth/revoke_access_token");
        let answer = call(get(c, &url, signer(&a.api_key, secret, Some(token_pair(tokens))).get(&url, &()))).await?;
        match answer.ok() {
            true => Ok(()),
            false => Err(error(&answer)),
        }
    }
}

//! Fyers API v3: the auth-code login, the exchange with `appIdHash`, renewal
//! with the refresh token and the user's PIN, the profile and logout.
//!
//! Every fact, with its source (fyers-apiv3 3.2.0 `fyers_apiv3/fyersModel.py`,
//! FyersDev's Go and C SDKs, answers recorded from the live API):
//! `docs/providers/fyers.md`.

use super::error::Codes;
use super::http::{required, rotated, send, text, Reply};
use super::protocol::{code_in, refresh_token, Protocol};
use super::{
    lifetime_override, CallbackError, Credentials, Grant, LoginAttempt, LoginCode, ProviderClient, ProviderError,
    UserInfo,
};
use crate::config::AccountConfig;
use crate::store::TokenSet;
use crate::Secret;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tokentray_core::expiry::{fyers_refresh_limit, jwt_expiry, FYERS_CUTOFF};
use tokentray_core::{ErrorClass, Instant, ProviderKind, Refreshability, TokenMeta};

const FYERS: ProviderKind = ProviderKind::Fyers;

/// Fyers' codes: recorded live, and Fyers' error sheet (docs/providers/fyers.md).
pub(super) const CODES: Codes = &[
    ("-8", ErrorClass::TokenInvalid),
    ("-15", ErrorClass::TokenInvalid),
    ("-16", ErrorClass::TokenInvalid),
    ("-17", ErrorClass::TokenInvalid),
    ("-437", ErrorClass::TokenInvalid),
    ("-501", ErrorClass::TokenInvalid),
    ("-371", ErrorClass::CredentialsWrong),
    ("-353", ErrorClass::RateLimited),
    ("-429", ErrorClass::RateLimited),
    ("-96", ErrorClass::Transient),
];
const API: &str = "/api/v3";

/// `hex(sha256(app_id + ":" + secret))`, the app id with its `-100` suffix:
/// what proves the app's identity on the token calls.
pub fn app_id_hash(app_id: &str, secret: &str) -> String {
    Sha256::digest(format!("{app_id}:{secret}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn endpoint(a: &AccountConfig, path: &str) -> String {
    ProviderClient::endpoint(&a.api_base, &format!("{API}{path}"))
}

pub fn begin_login(account: &AccountConfig, state: String) -> LoginAttempt {
    let mut url = url::Url::parse(&ProviderClient::endpoint(&account.login_base, &format!("{API}/generate-authcode")))
        .expect("login_base is a valid URL");
    url.query_pairs_mut()
        .append_pair("client_id", &account.api_key)
        .append_pair("redirect_uri", account.redirect_uri.as_str())
        .append_pair("response_type", "code")
        .append_pair("state", &state);
    LoginAttempt::new(url, state)
}

/// The redirect's code is in `auth_code`; `code=200` beside it is a status.
/// `s` other than `ok` is Fyers refusing the login.
pub fn callback_code(query: &HashMap<String, String>) -> (&'static str, Option<String>) {
    let failed = match query.get("s").map(String::as_str) {
        Some("ok") | None => None,
        Some(s) => Some(match query.get("message").filter(|m| !m.is_empty()) {
            Some(m) => format!("s={s}: {m}"),
            None => format!("s={s}"),
        }),
    };
    ("auth_code", failed)
}

/// `{"s":"error","code":-16,"message":..}`, whatever the HTTP status.
fn failed(reply: &Reply) -> bool {
    !reply.is_success() || text(&reply.body, "s") != Some("ok")
}

fn error(reply: &Reply) -> ProviderError {
    let b = &reply.body;
    let code = match b.get("code") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let message = text(b, "message").unwrap_or("no message").to_owned();
    let mut e = ProviderError::from_response(FYERS, reply.status, code, message, CODES);
    e.retry_after = reply.retry_after;
    // The answer to a wrong PIN is not documented: a refusal that speaks of
    // the PIN is the user's PIN to fix, not a login. An outage (5xx, 429)
    // stays an outage whatever its words.
    let outage = reply.status >= 500 || reply.status == 429 || e.class == ErrorClass::RateLimited;
    if !outage && e.message.to_ascii_lowercase().split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == "pin") {
        e.class = ErrorClass::CredentialsWrong;
        e.message = format!("{} (set the PIN with `tokentray secret set ACCOUNT --pin`)", e.message);
    }
    e
}

async fn token_call(c: &ProviderClient, path: &str, body: Value) -> Result<Reply, ProviderError> {
    let request = c
        .http
        .post(endpoint(c.account(), path))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(body.to_string());
    send(FYERS, request).await
}

pub async fn exchange(c: &ProviderClient, code: &str, secret: &Secret, now: Instant) -> Result<Grant, ProviderError> {
    let a = c.account();
    let body = json!({
        "grant_type": "authorization_code",
        "appIdHash": app_id_hash(&a.api_key, secret.expose()),
        "code": code,
    });
    token_answer(c, token_call(c, "/validate-authcode", body).await?, None, now, now)
}

pub async fn refresh(
    c: &ProviderClient,
    refresh_token: &Secret,
    current: &TokenMeta,
    credentials: &Credentials,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let Some(pin) = credentials.pin.as_ref().filter(|p| !p.is_empty()) else {
        return Err(ProviderError::new(
            FYERS,
            ErrorClass::CredentialsWrong,
            format!(
                "Fyers renews a token only with the account's PIN; store it with `tokentray secret set {} --pin`",
                c.account().id
            ),
        ));
    };
    let a = c.account();
    let body = json!({
        "grant_type": "refresh_token",
        "appIdHash": app_id_hash(&a.api_key, credentials.secret.expose()),
        "refresh_token": refresh_token.expose(),
        "pin": pin.expose(),
    });
    let reply = token_call(c, "/validate-refresh-token", body).await?;
    if failed(&reply) {
        return Err(renewal_refused(&reply));
    }
    token_answer(c, reply, Some(refresh_token), current.login_at, now)
}

/// Why Fyers refused a renewal. The renewal carries the PIN, and how Fyers
/// refuses a wrong one is not published (docs/providers/fyers.md: treat
/// any refusal but `-501` as "ask again"): a refusal in Fyers' own words
/// that names neither an outage nor a spent refresh token is taken for the
/// credentials, so that it is counted and the PIN is not sent again.
/// Anything that is not Fyers speaking (a proxy's page) stays an outage.
fn renewal_refused(reply: &Reply) -> ProviderError {
    let mut e = error(reply);
    if e.class == ErrorClass::Malformed && text(&reply.body, "s") == Some("error") {
        e.class = ErrorClass::CredentialsWrong;
        e.message = format!(
            "{} (Fyers gives no reason TokenTray knows: it takes this for the PIN or api secret and does not send \
             them again until the PIN is stored again)",
            e.message
        );
    }
    e
}

/// What a token call's answer grants. A renewal's answer may carry no
/// refresh token: the one that renewed is kept.
pub(super) fn token_answer(
    c: &ProviderClient,
    reply: Reply,
    previous_refresh: Option<&Secret>,
    login_at: Instant,
    now: Instant,
) -> Result<Grant, ProviderError> {
    if failed(&reply) {
        return Err(error(&reply));
    }
    let access = required(FYERS, reply.status, &reply.body, "access_token")?;
    let refresh = rotated(&reply.body, "refresh_token", previous_refresh);
    // Every sample token dies at 06:00 IST after its issue: the JWT says so.
    let rollover = FYERS_CUTOFF.next_after(now);
    let expires_at =
        lifetime_override(c.account(), now).unwrap_or_else(|| jwt_expiry(now, super::jwt_exp(access), rollover));
    let refresh_state = match &refresh {
        Some(_) => Refreshability::Until(fyers_refresh_limit(login_at)),
        None => Refreshability::NotRefreshable,
    };
    Ok(Grant {
        tokens: TokenSet {
            access_token: Secret::new(access),
            refresh_token: refresh,
            feed_token: None,
            token_secret: None,
        },
        meta: TokenMeta { issued_at: now, expires_at, login_at, refresh: refresh_state },
        user: UserInfo::default(),
    })
}

fn authorized(c: &ProviderClient, request: reqwest::RequestBuilder, access: &Secret) -> reqwest::RequestBuilder {
    let (name, value) = super::auth_header(FYERS, &c.account().api_key, access).expect("Fyers takes a header");
    request.header(name, value).header("version", "3").header("Accept", "application/json")
}

pub async fn profile(c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
    let request = authorized(c, c.http.get(endpoint(c.account(), "/profile")), access);
    profile_answer(send(FYERS, request).await?)
}

pub(super) fn profile_answer(reply: Reply) -> Result<UserInfo, ProviderError> {
    if failed(&reply) {
        return Err(error(&reply));
    }
    let data = reply
        .body
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| ProviderError::malformed(FYERS, reply.status, "the response has no `data` object"))?;
    Ok(UserInfo {
        user_id: text(data, "fy_id").map(str::to_owned),
        user_name: text(data, "name").or_else(|| text(data, "display_name")).map(str::to_owned),
    })
}

pub async fn logout(c: &ProviderClient, access: &Secret) -> Result<(), ProviderError> {
    let request = authorized(c, c.http.post(endpoint(c.account(), "/logout")), access)
        .header("Content-Type", "application/json")
        .body("{}");
    let reply = send(FYERS, request).await?;
    if failed(&reply) {
        return Err(error(&reply));
    }
    Ok(())
}

pub(super) struct Fyers;

#[async_trait::async_trait]
impl Protocol for Fyers {
    async fn begin_login(&self, c: &ProviderClient, _: &Secret, state: String) -> Result<LoginAttempt, ProviderError> {
        Ok(begin_login(c.account(), state))
    }

    fn read_callback(&self, query: &HashMap<String, String>) -> Result<LoginCode, CallbackError> {
        let (field, failed) = callback_code(query);
        match failed {
            Some(why) => Err(CallbackError::Denied(why)),
            None => code_in(query, field),
        }
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
        refresh(c, refresh_token(c, tokens)?, current, credentials, now).await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, code: i64, message: &str) -> Reply {
        Reply { status, body: json!({"s": "error", "code": code, "message": message}), retry_after: None }
    }

    #[test]
    fn a_refusal_that_speaks_of_the_pin_is_the_pins_but_an_outage_stays_an_outage() {
        assert_eq!(error(&reply(400, -502, "Please provide valid pin")).class, ErrorClass::CredentialsWrong);
        assert_eq!(error(&reply(200, -502, "Invalid PIN.")).class, ErrorClass::CredentialsWrong);
        for status in [500, 502, 503, 429] {
            let e = error(&reply(status, -1, "pin service unavailable"));
            assert_ne!(e.class, ErrorClass::CredentialsWrong, "{status}: {e}");
        }
        assert_ne!(error(&reply(400, -502, "spinning up")).class, ErrorClass::CredentialsWrong, "a word, not a part");
    }

    #[test]
    fn a_renewal_refused_for_no_reason_known_is_not_sent_again_but_an_outage_is_retried() {
        // A wrong PIN's answer is not published: whatever Fyers says in its own words.
        for (status, code, message) in [(400, -1600, "Invalid MPIN"), (200, -7, "Request failed"), (400, -99, "")] {
            let e = renewal_refused(&reply(status, code, message));
            assert_eq!(e.class, ErrorClass::CredentialsWrong, "{status} {code}: {e}");
        }
        let spent = renewal_refused(&reply(400, -501, "Please provide valid refresh token"));
        assert_eq!(spent.class, ErrorClass::TokenInvalid, "a spent refresh token asks for a login");
        for (status, code) in [(503, -96), (429, -353), (400, -96)] {
            let e = renewal_refused(&reply(status, code, "Something went wrong"));
            assert!(matches!(e.class, ErrorClass::Transient | ErrorClass::RateLimited), "{status} {code}: {e}");
        }
        // A proxy's page, not Fyers speaking: retried.
        let page = Reply { status: 400, body: Value::String("<html>Bad Request</html>".into()), retry_after: None };
        assert_eq!(renewal_refused(&page).class, ErrorClass::Malformed);
    }
}

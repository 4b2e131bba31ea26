//! Interactive Brokers' Client Portal gateway (Web API), the way retail
//! accounts reach it (IBKR offers them no OAuth). The user runs the gateway
//! and logs in on its own page; TokenTray watches for the session to be
//! authenticated, keeps it alive with `/tickle` about every minute, checks
//! it with `/iserver/auth/status` (a login elsewhere shows as `competing`),
//! wakes a timed-out brokerage session with `/iserver/auth/ssodh/init`
//! (never taking it from another login), and counts down to the region's
//! midnight reset (New York, Zug or Hong Kong, by the account's exchange),
//! after which only a new login helps.
//!
//! Every fact, with its source (IBKR's Web API v1.0 documentation;
//! Voyz/ibeam and Voyz/ibind; ibind issue 109 on OAuth for individual
//! accounts): `docs/providers/ibkr.md`.

use super::error::Codes;
use super::http::{send, text, Reply};
use super::protocol::{code_in, Protocol};
use super::{CallbackError, Credentials, Grant, LoginAttempt, LoginCode, ProviderClient, ProviderError, UserInfo};
use crate::store::TokenSet;
use crate::Secret;
use serde_json::{json, Value};
use std::collections::HashMap;
use tokentray_core::expiry::{ibkr_expiry, ibkr_reset_zone, midnight_after};
use tokentray_core::{ErrorClass, Instant, ProviderKind, Refreshability, TokenMeta};

const IBKR: ProviderKind = ProviderKind::Ibkr;

/// `{"error":"not authenticated","statusCode":401}`: the gateway runs, but
/// holds no session.
pub(super) const CODES: Codes = &[("not authenticated", ErrorClass::TokenInvalid)];

const COMPETING: &str = "another login with this username (TWS, IBKR Mobile, the Client Portal website or another \
                         gateway) has taken the trading session: log out there, or log in again here to take it \
                         back";
const NOT_AUTHENTICATED: &str = "the gateway's session is not authenticated: log in again on its page";
const DISCONNECTED: &str =
    "the gateway has lost its connection to IBKR (IBKR's servers restarting, maintenance, or the \
                            network): retrying";
const STARTING: &str = "the gateway is starting the trading session again: retrying";

fn error(reply: &Reply) -> ProviderError {
    let said = text(&reply.body, "error").map(str::to_owned);
    let message = said.clone().unwrap_or_else(|| "no message".to_owned());
    ProviderError {
        retry_after: reply.retry_after,
        ..ProviderError::from_response(IBKR, reply.status, said, message, CODES)
    }
}

/// `POST {api_base}/v1/api{path}`, on the gateway's own client (its
/// certificate is its own), saying where the gateway is when it is not there.
async fn post(c: &ProviderClient, path: &str, body: Option<Value>) -> Result<Reply, ProviderError> {
    let url = ProviderClient::endpoint(&c.account().api_base, &format!("/v1/api{path}"));
    let mut request = c.gateway_http().post(url).header("Accept", "application/json");
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(IBKR, request).await.map_err(|mut e| {
        if e.class == ErrorClass::Transient && e.status.is_none() {
            e.message = format!(
                "{} at {}: is the Client Portal gateway running? TokenTray does not start it (bin/run.sh \
                 root/conf.yaml, or IBeam)",
                e.message,
                c.account().api_base
            );
        }
        e
    })
}

/// The brokerage session's state, as `/iserver/auth/status` and `/tickle`'s
/// `iserver.authStatus` write it; any field may be missing.
struct AuthStatus {
    authenticated: bool,
    competing: bool,
    connected: bool,
}

impl AuthStatus {
    fn of(v: &Value) -> Self {
        let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        Self { authenticated: flag("authenticated"), competing: flag("competing"), connected: flag("connected") }
    }

    /// Usable for trading, or why not. Only the gateway saying the session is
    /// someone else's, or over while it is connected, asks for a login; a
    /// gateway cut off from IBKR (a reset, the weekend's maintenance) is an
    /// outage, retried while the session lives.
    fn usable(&self) -> Result<(), ProviderError> {
        match (self.authenticated, self.competing, self.connected) {
            (_, true, _) => Err(ProviderError::new(IBKR, ErrorClass::TokenInvalid, COMPETING)),
            (true, false, _) => Ok(()),
            (false, false, false) => Err(ProviderError::new(IBKR, ErrorClass::Transient, DISCONNECTED)),
            (false, false, true) => Err(ProviderError::new(IBKR, ErrorClass::TokenInvalid, NOT_AUTHENTICATED)),
        }
    }
}

/// When IBKR next resets the account's session: midnight in its region,
/// told by the account's exchange (`expiry::ibkr_reset_zone`).
fn reset_after(c: &ProviderClient, now: Instant) -> Instant {
    midnight_after(ibkr_reset_zone(c.account().market.zone), now)
}

/// A `/tickle` answer: the session, kept alive, as a grant.
fn tickle_answer(c: &ProviderClient, reply: Reply, login_at: Instant, now: Instant) -> Result<Grant, ProviderError> {
    if !reply.is_success() {
        return Err(error(&reply));
    }
    let session = text(&reply.body, "session").filter(|s| !s.is_empty());
    let Some(session) = session else {
        return Err(ProviderError::malformed(IBKR, reply.status, "the tickle answer has no `session`"));
    };
    AuthStatus::of(reply.body.pointer("/iserver/authStatus").unwrap_or(&Value::Null)).usable()?;
    let reset = reset_after(c, now);
    let expires_at = ibkr_expiry(now, reply.body.get("ssoExpires").and_then(Value::as_i64), reset);
    // Tickled until the reset, to its last minute.
    let refresh = Refreshability::Until(reset);
    let user_id =
        reply.body.get("userId").and_then(|u| u.as_i64().map(|n| n.to_string()).or(u.as_str().map(str::to_owned)));
    Ok(Grant {
        tokens: TokenSet::access(session),
        meta: TokenMeta { issued_at: now, expires_at, login_at, refresh },
        user: UserInfo { user_id, user_name: None },
    })
}

async fn tickle(c: &ProviderClient, login_at: Instant, now: Instant) -> Result<Grant, ProviderError> {
    tickle_answer(c, post(c, "/tickle", None).await?, login_at, now)
}

/// The session kept alive. A brokerage session that timed out while the
/// gateway stayed logged in is woken (`ssodh/init`, not competing: a login
/// elsewhere keeps its session), then tickled again.
async fn keep_alive(c: &ProviderClient, current: &TokenMeta, now: Instant) -> Result<Grant, ProviderError> {
    match tickle(c, current.login_at, now).await {
        Err(e) if e.message == NOT_AUTHENTICATED => {
            tracing::info!(provider = %IBKR, "the brokerage session timed out; asking the gateway to start it again");
            let woken = post(c, "/iserver/auth/ssodh/init", Some(json!({"publish": true, "compete": false}))).await?;
            if !woken.is_success() {
                return Err(error(&woken));
            }
            match AuthStatus::of(&woken.body).usable() {
                // Still starting: the next renewal finds out.
                Err(e) if e.message == NOT_AUTHENTICATED => {
                    return Err(ProviderError::new(IBKR, ErrorClass::Transient, STARTING))
                }
                other => other?,
            }
            tickle(c, current.login_at, now).await
        }
        other => other,
    }
}

fn status_answer(reply: Reply) -> Result<UserInfo, ProviderError> {
    if !reply.is_success() {
        return Err(error(&reply));
    }
    if !reply.body.is_object() {
        return Err(ProviderError::malformed(IBKR, reply.status, "the status answer is not an object"));
    }
    AuthStatus::of(&reply.body).usable()?;
    Ok(UserInfo::default())
}

pub(super) struct Ibkr;

#[async_trait::async_trait]
impl Protocol for Ibkr {
    /// The gateway's own login page (with IBKR's two-factor step).
    async fn begin_login(&self, c: &ProviderClient, _: &Secret, state: String) -> Result<LoginAttempt, ProviderError> {
        let mut url = c.account().login_base.clone();
        url.set_path("/");
        Ok(LoginAttempt::new(url, state))
    }

    /// What [`Protocol::watch_login`] hands over once the session is authenticated.
    fn read_callback(&self, query: &HashMap<String, String>) -> Result<LoginCode, CallbackError> {
        code_in(query, "session")
    }

    /// The gateway has said (the watch's tickle) the session is
    /// authenticated: its status confirms it (another tickle now would
    /// exceed IBKR's pace of one a second), and the session is the grant.
    async fn exchange(
        &self,
        c: &ProviderClient,
        login: &LoginCode,
        _: &LoginAttempt,
        _: &Secret,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        status_answer(post(c, "/iserver/auth/status", None).await?)?;
        let reset = reset_after(c, now);
        let expires_at = ibkr_expiry(now, None, reset);
        let refresh = Refreshability::Until(reset);
        Ok(Grant {
            tokens: TokenSet::access(login.code.expose()),
            meta: TokenMeta { issued_at: now, expires_at, login_at: now, refresh },
            user: UserInfo::default(),
        })
    }

    async fn refresh(
        &self,
        c: &ProviderClient,
        _: &TokenSet,
        current: &TokenMeta,
        _: &Credentials,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        keep_alive(c, current, now).await
    }

    fn token_answer(&self, c: &ProviderClient, reply: Reply, now: Instant) -> Result<Grant, ProviderError> {
        tickle_answer(c, reply, now, now)
    }

    fn profile_answer(&self, _: &ProviderClient, reply: Reply) -> Result<UserInfo, ProviderError> {
        status_answer(reply)
    }

    async fn validate(&self, c: &ProviderClient, _: &Secret) -> Result<UserInfo, ProviderError> {
        status_answer(post(c, "/iserver/auth/status", None).await?)
    }

    async fn logout(&self, c: &ProviderClient, _: &TokenSet, _: Option<&Secret>) -> Result<(), ProviderError> {
        let reply = post(c, "/logout", None).await?;
        match reply.is_success() {
            true => Ok(()),
            false => Err(error(&reply)),
        }
    }

    /// Whether the user has logged in on the gateway's page: its session,
    /// once `/tickle` says it is authenticated and not taken elsewhere.
    async fn watch_login(
        &self,
        c: &ProviderClient,
        attempt: &LoginAttempt,
    ) -> Result<Option<HashMap<String, String>>, ProviderError> {
        let reply = post(c, "/tickle", None).await?;
        match reply.status {
            // No session yet: the user is still on the page.
            401 => return Ok(None),
            _ if !reply.is_success() => return Err(error(&reply)),
            _ => {}
        }
        let status = AuthStatus::of(reply.body.pointer("/iserver/authStatus").unwrap_or(&Value::Null));
        let session = text(&reply.body, "session").filter(|s| !s.is_empty());
        Ok(match (status.usable().is_ok(), session) {
            (true, Some(session)) => Some(HashMap::from([
                ("session".to_owned(), session.to_owned()),
                ("state".to_owned(), attempt.state.clone()),
            ])),
            _ => None,
        })
    }
}

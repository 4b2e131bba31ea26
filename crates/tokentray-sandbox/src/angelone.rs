//! Angel One SmartAPI: the publisher login (the redirect brings the tokens),
//! `generateTokens`, `getProfile` and logout, with the headers every SDK
//! sends demanded on every call, in both of Angel's error envelopes
//! (docs/providers/angelone.md).
//!
//! Where Angel's behaviour is unknown, the sandbox is strict and says so:
//! the redirect carries a refresh token and echoes `state`, a JWT's `exp`
//! lies years ahead while the token dies after a day (as seen live),
//! renewal rotates the refresh token, and logout ends both tokens.

use crate::authorize::{error_page, finish, with_query};
use crate::fault::intercept;
use crate::reply::{angel_error, angel_gateway_error, angel_ok, jwt, random_token};
use crate::{App, AppState, Endpoint};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::HashMap;
use tokentray_core::ProviderKind;

/// AngelOne's endpoints a test can break.
#[allow(non_upper_case_globals)]
impl Endpoint {
    pub const AngelTokens: Endpoint = Endpoint("angel_tokens");
    pub const AngelProfile: Endpoint = Endpoint("angel_profile");
    pub const AngelLogout: Endpoint = Endpoint("angel_logout");
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/publisher-login", get(publisher_login))
        .route("/rest/auth/angelbroking/jwt/v1/generateTokens", post(generate_tokens))
        .route("/rest/secure/angelbroking/user/v1/getProfile", get(profile))
        .route("/rest/secure/angelbroking/user/v1/logout", post(logout))
}

/// A new JWT, refresh token and feed token for `app`.
fn issue(shared: &AppState, app: &App) -> (String, String, String) {
    let now = Utc::now();
    let expires = crate::ist::expiry(&shared.config, &app.client_id, now, |t| t + chrono::TimeDelta::hours(24));
    // Publisher tokens have been seen with an `exp` three years ahead.
    let token =
        jwt(json!({"username": app.user_id, "iat": now.timestamp(), "exp": now.timestamp() + 3 * 365 * 86_400}));
    let mut registry = shared.registry.lock().expect("registry lock");
    let access = registry.issue_access(&app.client_id, expires, token);
    let refresh = registry.issue_refresh(&app.client_id, now);
    (access, refresh, random_token(12))
}

async fn publisher_login(State(shared): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(app) = q.get("api_key").and_then(|k| shared.config.app(&[ProviderKind::AngelOne], k)) else {
        return error_page("Invalid api_key.");
    };
    let (access, refresh, feed) = issue(&shared, app);
    let mut approve =
        vec![("auth_token", access.as_str()), ("feed_token", feed.as_str()), ("refresh_token", refresh.as_str())];
    if let Some(state) = q.get("state") {
        approve.push(("state", state));
    }
    finish(&shared, "Angel One", &with_query(&app.redirect_uri, &approve), &app.redirect_uri)
}

/// The headers every SmartAPI SDK sends; a missing one is refused. Returns
/// the app the `X-PrivateKey` names.
fn checked<'a>(shared: &'a AppState, headers: &HeaderMap) -> Result<&'a App, Response> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    for (name, want) in [
        ("content-type", Some("application/json")),
        ("accept", Some("application/json")),
        ("x-usertype", Some("USER")),
        ("x-sourceid", Some("WEB")),
        ("x-clientlocalip", None),
        ("x-clientpublicip", None),
        ("x-macaddress", None),
    ] {
        let value = get(name);
        if value.is_empty() || want.is_some_and(|w| value != w) {
            return Err(angel_error(StatusCode::BAD_REQUEST, "AB2000", &format!("Invalid or missing header {name}")));
        }
    }
    shared
        .config
        .app(&[ProviderKind::AngelOne], get("x-privatekey"))
        .ok_or_else(|| angel_gateway_error("AG8004", "Invalid API Key"))
}

/// The bearer JWT, if it was issued to `app` (live or not, as `live` asks).
fn bearer(shared: &AppState, headers: &HeaderMap, app: &App, live: bool) -> Option<String> {
    let token = headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ")?;
    let registry = shared.registry.lock().expect("registry lock");
    let ok = match live {
        true => registry.access_valid(token, Some(&app.client_id)),
        false => registry.access_client(token).as_deref() == Some(app.client_id.as_str()),
    };
    ok.then(|| token.to_owned())
}

async fn generate_tokens(State(shared): State<AppState>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::AngelTokens).await {
        return r;
    }
    let app = match checked(&shared, &headers) {
        Ok(a) => a,
        Err(r) => return r,
    };
    // Every SDK sends the current JWT; whether Angel needs it live is unknown.
    if bearer(&shared, &headers, app, false).is_none() {
        return angel_gateway_error("AG8003", "Token missing");
    }
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let refresh = body.get("refreshToken").and_then(Value::as_str).unwrap_or("");
    if shared.registry.lock().expect("registry lock").refresh_grant(refresh, &app.client_id).is_none() {
        return angel_error(StatusCode::OK, "AB8050", "Invalid Refresh Token");
    }
    shared.registry.lock().expect("registry lock").revoke_refresh(refresh);
    let (access, refresh, feed) = issue(&shared, app);
    angel_ok(json!({"jwtToken": access, "refreshToken": refresh, "feedToken": feed}))
}

async fn profile(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::AngelProfile).await {
        return r;
    }
    let app = match checked(&shared, &headers) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if bearer(&shared, &headers, app, true).is_none() {
        return angel_gateway_error("AG8001", "Invalid Token");
    }
    angel_ok(json!({
        "clientcode": app.user_id, "name": "SANDBOX TRADER", "email": "", "mobileno": "",
        "exchanges": ["nse_cm", "bse_cm", "nse_fo"], "products": ["MARGIN", "MIS", "NRML", "CNC"],
        "lastlogintime": "", "broker": ""
    }))
}

async fn logout(State(shared): State<AppState>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::AngelLogout).await {
        return r;
    }
    let app = match checked(&shared, &headers) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(token) = bearer(&shared, &headers, app, true) else {
        return angel_gateway_error("AG8001", "Invalid Token");
    };
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if body.get("clientcode").and_then(Value::as_str) != Some(app.user_id.as_str()) {
        return angel_error(StatusCode::BAD_REQUEST, "AB1032", "User Not Found");
    }
    let mut registry = shared.registry.lock().expect("registry lock");
    registry.revoke_access(&token);
    registry.revoke_client_tokens(&app.client_id);
    angel_ok(Value::Null)
}

pub(crate) struct AngelOne;

impl crate::broker::Broker for AngelOne {
    fn routes(&self) -> Router<AppState> {
        routes()
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[Endpoint::AngelTokens, Endpoint::AngelProfile, Endpoint::AngelLogout]
    }

    fn outage(&self, status: StatusCode) -> Response {
        angel_error(status, "AB2001", "Internal Error, Please try after sometime")
    }

    fn invalid_token(&self, endpoint: Endpoint) -> Response {
        match endpoint == Endpoint::AngelTokens {
            true => angel_error(StatusCode::OK, "AB8050", "Invalid Refresh Token"),
            false => angel_gateway_error("AG8001", "Invalid Token"),
        }
    }

    fn rate_limited(&self) -> Response {
        angel_error(StatusCode::TOO_MANY_REQUESTS, "", "Access denied because of exceeding access rate")
    }

    fn hostile_token(&self) -> Response {
        angel_ok(json!({"jwtToken": crate::HOSTILE_TOKEN, "refreshToken": "r-ok", "feedToken": "f-ok"}))
    }
}

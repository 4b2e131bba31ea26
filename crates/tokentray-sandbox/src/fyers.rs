//! Fyers API v3: the auth-code login, `validate-authcode` with `appIdHash`,
//! `validate-refresh-token` with the PIN, profile and logout, in Fyers'
//! `{"s":..,"code":..,"message":..}` envelope (docs/providers/fyers.md).
//!
//! Where Fyers' behaviour is unknown, the sandbox is strict and says so:
//! a failed exchange spends the code, a renewal does not rotate the
//! refresh token, and a wrong PIN is refused with a message naming the PIN.

use crate::authorize::{error_page, finish, with_query};
use crate::fault::intercept;
use crate::reply::{fyers_error, json, jwt};
use crate::{AppState, Endpoint};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tokentray_core::ProviderKind;

/// Fyers's endpoints a test can break.
#[allow(non_upper_case_globals)]
impl Endpoint {
    pub const FyersAuthCode: Endpoint = Endpoint("fyers_auth_code");
    pub const FyersRefresh: Endpoint = Endpoint("fyers_refresh");
    pub const FyersProfile: Endpoint = Endpoint("fyers_profile");
    pub const FyersLogout: Endpoint = Endpoint("fyers_logout");
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v3/generate-authcode", get(authorize))
        .route("/api/v3/validate-authcode", post(validate_authcode))
        .route("/api/v3/validate-refresh-token", post(validate_refresh_token))
        .route("/api/v3/profile", get(profile))
        .route("/api/v3/logout", post(logout))
}

/// A refresh token works until 06:00 IST on the 15th day after the login.
const REFRESH_DAYS: i64 = 14;

pub fn app_id_hash(app_id: &str, secret: &str) -> String {
    Sha256::digest(format!("{app_id}:{secret}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

async fn authorize(State(shared): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    if q.get("response_type").map(String::as_str) != Some("code") {
        return error_page("response_type must be `code`.");
    }
    let app = q.get("client_id").and_then(|c| shared.config.app(&[ProviderKind::Fyers], c));
    // The redirect URI must be exactly the one given when the app was made.
    let Some(app) = app.filter(|a| q.get("redirect_uri") == Some(&a.redirect_uri)) else {
        return error_page("Invalid client_id or redirect_uri.");
    };
    let code = shared.registry.lock().expect("registry lock").issue_code(&app.client_id, None, None);
    let state = q.get("state").map(String::as_str).unwrap_or("None");
    let approve = [("s", "ok"), ("code", "200"), ("auth_code", code.as_str()), ("state", state)];
    let deny = [("s", "error"), ("code", "-1"), ("message", "User cancelled the login"), ("state", state)];
    finish(&shared, "Fyers", &with_query(&app.redirect_uri, &approve), &with_query(&app.redirect_uri, &deny))
}

/// The JSON body of a token call, which must be JSON (the SDK sends `json=`).
fn body(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, Response> {
    let is_json =
        headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) if is_json => Ok(v),
        _ => Err(fyers_error(StatusCode::BAD_REQUEST, -50, "Invalid input: the body must be a JSON object")),
    }
}

fn field<'a>(body: &'a Value, name: &str) -> &'a str {
    body.get(name).and_then(Value::as_str).unwrap_or("")
}

fn access_token(shared: &AppState, app_id: &str, now: DateTime<Utc>) -> String {
    let expires = crate::ist::expiry(&shared.config, app_id, now, |t| crate::ist::next(t, 6, 0));
    let token = jwt(json!({"sub": "access_token", "iat": now.timestamp(), "exp": expires.timestamp(), "appType": 100}));
    shared.registry.lock().expect("registry lock").issue_access(app_id, expires, token)
}

async fn validate_authcode(State(shared): State<AppState>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::FyersAuthCode).await {
        return r;
    }
    let body = match body(&headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if field(&body, "grant_type") != "authorization_code" {
        return fyers_error(StatusCode::BAD_REQUEST, -441, "invalid grant type");
    }
    let code = field(&body, "code");
    if code.is_empty() {
        return fyers_error(StatusCode::BAD_REQUEST, -374, "Please provide authorization code.");
    }
    // The code names the app; the hash proves the caller holds its secret.
    let client = shared.registry.lock().expect("registry lock").codes.get(code).map(|g| g.client_id.clone());
    let Some(app) = client.and_then(|c| shared.config.app(&[ProviderKind::Fyers], &c)) else {
        return fyers_error(StatusCode::BAD_REQUEST, -437, "invalid auth code");
    };
    let taken = shared.registry.lock().expect("registry lock").take_code(code, &app.client_id, shared.config.code_ttl);
    if field(&body, "appIdHash") != app_id_hash(&app.client_id, &app.client_secret) {
        return fyers_error(StatusCode::BAD_REQUEST, -371, "Please provide sha256 hash of appId and app secret");
    }
    if taken.is_err() {
        return fyers_error(StatusCode::BAD_REQUEST, -437, "invalid auth code");
    }
    let now = Utc::now();
    let access = access_token(&shared, &app.client_id, now);
    let refresh = shared.registry.lock().expect("registry lock").issue_refresh(&app.client_id, now);
    json(
        StatusCode::OK,
        json!({"s": "ok", "code": 200, "message": "", "access_token": access, "refresh_token": refresh}),
    )
}

async fn validate_refresh_token(
    State(shared): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::FyersRefresh).await {
        return r;
    }
    let body = match body(&headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if field(&body, "grant_type") != "refresh_token" {
        return fyers_error(StatusCode::BAD_REQUEST, -441, "invalid grant type");
    }
    let hash = field(&body, "appIdHash");
    let Some(app) = shared
        .config
        .apps
        .iter()
        .find(|a| a.provider == ProviderKind::Fyers && app_id_hash(&a.client_id, &a.client_secret) == hash)
    else {
        return fyers_error(StatusCode::BAD_REQUEST, -371, "Please provide sha256 hash of appId and app secret");
    };
    let grant =
        shared.registry.lock().expect("registry lock").refresh_grant(field(&body, "refresh_token"), &app.client_id);
    let limit = grant.as_ref().map(|g| crate::ist::next(g.login_at + chrono::TimeDelta::days(REFRESH_DAYS), 6, 0));
    if grant.is_none() || limit.is_some_and(|l| l <= Utc::now()) {
        return fyers_error(StatusCode::BAD_REQUEST, -501, "Please provide valid refresh token");
    }
    if field(&body, "pin") != app.pin {
        return fyers_error(StatusCode::BAD_REQUEST, -502, "Please provide valid pin");
    }
    let access = access_token(&shared, &app.client_id, Utc::now());
    json(StatusCode::OK, json!({"s": "ok", "code": 200, "message": "", "access_token": access}))
}

/// `Authorization: app_id:access_token`, no scheme.
fn authorized(shared: &AppState, headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (app_id, token) = value.split_once(':')?;
    let valid = shared.registry.lock().expect("registry lock").access_valid(token, Some(app_id));
    valid.then(|| (app_id.to_owned(), token.to_owned()))
}

async fn profile(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::FyersProfile).await {
        return r;
    }
    let Some((app_id, _)) = authorized(&shared, &headers) else {
        return fyers_error(StatusCode::UNAUTHORIZED, -16, "Could not authenticate the user");
    };
    let app = shared.config.app(&[ProviderKind::Fyers], &app_id).expect("token issued to a registered app");
    json(
        StatusCode::OK,
        json!({"s": "ok", "code": 200, "message": "", "data": {
            "fy_id": app.user_id, "name": "SANDBOX TRADER", "image": null, "display_name": null,
            "email_id": format!("{}@sandbox.invalid", app.user_id.to_lowercase()), "PAN": "XXXXX0000X",
            "mobile_number": "0000000000", "pin_change_date": "01-01-2026", "pwd_change_date": "01-01-2026",
            "pwd_to_expire": 90, "totp": true, "ddpi_enabled": false, "mtf_enabled": false
        }}),
    )
}

async fn logout(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::FyersLogout).await {
        return r;
    }
    let Some((_, token)) = authorized(&shared, &headers) else {
        return fyers_error(StatusCode::UNAUTHORIZED, -16, "Token is Invalid or Expired");
    };
    shared.registry.lock().expect("registry lock").revoke_access(&token);
    json(StatusCode::OK, json!({"s": "ok", "code": 200, "message": "you are successfully logged out"}))
}

pub(crate) struct Fyers;

impl crate::broker::Broker for Fyers {
    fn routes(&self) -> Router<AppState> {
        routes()
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[Endpoint::FyersAuthCode, Endpoint::FyersRefresh, Endpoint::FyersProfile, Endpoint::FyersLogout]
    }

    fn outage(&self, status: StatusCode) -> Response {
        fyers_error(status, -96, "Something went wrong")
    }

    fn invalid_token(&self, endpoint: Endpoint) -> Response {
        match endpoint == Endpoint::FyersRefresh {
            true => fyers_error(StatusCode::BAD_REQUEST, -501, "Please provide valid refresh token"),
            false => fyers_error(StatusCode::UNAUTHORIZED, -16, "Could not authenticate the user"),
        }
    }

    fn rate_limited(&self) -> Response {
        fyers_error(StatusCode::TOO_MANY_REQUESTS, -353, "API Limit exceeded")
    }

    fn hostile_token(&self) -> Response {
        crate::reply::json(
            StatusCode::OK,
            json!({"s": "ok", "code": 200, "message": "", "access_token": crate::HOSTILE_TOKEN, "refresh_token": "r-ok"}),
        )
    }
}

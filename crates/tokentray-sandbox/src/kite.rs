//! Kite Connect v3: login with `redirect_params`, session exchange with a
//! SHA-256 checksum, renew, profile and logout.

use crate::authorize::{error_page, finish, with_query};
use crate::fault::intercept;
use crate::registry::CodeRefusal;
use crate::reply::{kite_error, kite_ok, random_token};
use crate::{AppState, Endpoint};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tokentray_core::ProviderKind;

/// Kite's endpoints a test can break.
#[allow(non_upper_case_globals)]
impl Endpoint {
    pub const KiteSessionToken: Endpoint = Endpoint("kite_session_token");
    pub const KiteRefreshToken: Endpoint = Endpoint("kite_refresh_token");
    pub const KiteProfile: Endpoint = Endpoint("kite_profile");
    pub const KiteLogout: Endpoint = Endpoint("kite_logout");
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/connect/login", get(login))
        .route("/session/token", post(session_token).delete(logout))
        .route("/session/refresh_token", post(renew))
        .route("/user/profile", get(profile))
}

type Params = HashMap<String, String>;

pub fn checksum(api_key: &str, token: &str, secret: &str) -> String {
    let digest = Sha256::digest(format!("{api_key}{token}{secret}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn version_ok(headers: &HeaderMap) -> Option<Response> {
    match headers.get("x-kite-version").and_then(|v| v.to_str().ok()) {
        Some("3") => None,
        _ => Some(kite_error(StatusCode::BAD_REQUEST, "InputException", "Invalid or missing `X-Kite-Version` header.")),
    }
}

fn required<'a>(form: &'a Params, field: &str) -> Result<&'a str, Response> {
    form.get(field)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| kite_error(StatusCode::BAD_REQUEST, "InputException", &format!("Missing or empty `{field}`.")))
}

async fn login(State(shared): State<AppState>, Query(q): Query<Params>) -> Response {
    if q.get("v").map(String::as_str) != Some("3") {
        return error_page("Missing or invalid `v`: Kite Connect v3 logins need v=3.");
    }
    let Some(app) = q.get("api_key").and_then(|k| shared.config.app(&[ProviderKind::Kite], k)) else {
        return error_page("Invalid `api_key`.");
    };
    let code = shared.registry.lock().expect("registry lock").issue_code(&app.client_id, None, None);
    let echoed: Vec<(String, String)> = q
        .get("redirect_params")
        .map(|p| url::form_urlencoded::parse(p.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let echoed: Vec<(&str, &str)> = echoed.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut approve =
        vec![("action", "login"), ("type", "login"), ("status", "success"), ("request_token", code.as_str())];
    approve.extend(echoed.iter().copied());
    let mut deny = vec![("action", "login"), ("type", "login"), ("status", "error")];
    deny.extend(echoed.iter().copied());
    finish(&shared, "Kite", &with_query(&app.redirect_uri, &approve), &with_query(&app.redirect_uri, &deny))
}

/// The user's profile, as `/user/profile` returns it and the session embeds it.
fn profile_of(app: &crate::App) -> serde_json::Value {
    json!({
        "user_id": app.user_id,
        "user_type": "individual",
        "email": format!("{}@sandbox.invalid", app.user_id.to_lowercase()),
        "user_name": "Sandbox Trader",
        "user_shortname": "Sandbox",
        "broker": "ZERODHA",
        "exchanges": ["NSE", "BSE", "NFO", "MCX"],
        "products": ["CNC", "NRML", "MIS"],
        "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
        "avatar_url": null,
        "meta": {"demat_consent": "consent"}
    })
}

fn session_data(
    shared: &AppState,
    client_id: &str,
    access: &str,
    refresh: &str,
    login: DateTime<Utc>,
) -> serde_json::Value {
    let app = shared.config.app(&[ProviderKind::Kite], client_id).expect("checked before");
    let mut data = profile_of(app);
    let session = json!({
        "api_key": app.client_id,
        "access_token": access,
        "public_token": random_token(16),
        "refresh_token": refresh,
        "enctoken": random_token(16),
        "login_time": login.with_timezone(&crate::ist::offset()).format("%Y-%m-%d %H:%M:%S").to_string(),
    });
    if let (Some(d), serde_json::Value::Object(extra)) = (data.as_object_mut(), session) {
        d.extend(extra);
    }
    data
}

fn issue_access(shared: &AppState, client_id: &str, now: DateTime<Utc>) -> String {
    // Kite invalidates every token at 06:00 IST.
    let expires = crate::ist::expiry(&shared.config, client_id, now, |t| crate::ist::next(t, 6, 0));
    shared.registry.lock().expect("registry lock").issue_access(client_id, expires, random_token(16))
}

/// The checks both token endpoints make, in Kite's order: the version
/// header, the form fields, the api key, then the checksum over
/// `api_key + token + api_secret`. Returns the app and the token.
async fn checked<'a>(
    shared: &'a AppState,
    headers: &HeaderMap,
    form: &'a Params,
    endpoint: Endpoint,
    token_field: &str,
) -> Result<(&'a crate::App, &'a str), Response> {
    if let Some(r) = version_ok(headers) {
        return Err(r);
    }
    if let Some(r) = intercept(shared, endpoint).await {
        return Err(r);
    }
    let api_key = required(form, "api_key")?;
    let token = required(form, token_field)?;
    let sum = required(form, "checksum")?;
    let Some(app) = shared.config.app(&[ProviderKind::Kite], api_key) else {
        return Err(kite_error(StatusCode::FORBIDDEN, "InputException", "Invalid `api_key`."));
    };
    if sum != checksum(api_key, token, &app.client_secret) {
        return Err(kite_error(StatusCode::FORBIDDEN, "TokenException", "Invalid `checksum`."));
    }
    Ok((app, token))
}

async fn session_token(State(shared): State<AppState>, headers: HeaderMap, Form(form): Form<Params>) -> Response {
    let (app, request_token) =
        match checked(&shared, &headers, &form, Endpoint::KiteSessionToken, "request_token").await {
            Ok(v) => v,
            Err(r) => return r,
        };
    let api_key = app.client_id.as_str();
    let taken =
        shared.registry.lock().expect("registry lock").take_code(request_token, api_key, shared.config.code_ttl);
    if let Err(refusal) = taken {
        let message = match refusal {
            CodeRefusal::Used | CodeRefusal::Expired | CodeRefusal::Unknown | CodeRefusal::WrongClient => {
                "Token is invalid or has expired."
            }
        };
        return kite_error(StatusCode::FORBIDDEN, "TokenException", message);
    }
    let now = Utc::now();
    let access = issue_access(&shared, api_key, now);
    let refresh = if app.kite_refresh_token {
        shared.registry.lock().expect("registry lock").issue_refresh(api_key, now)
    } else {
        String::new()
    };
    kite_ok(session_data(&shared, api_key, &access, &refresh, now))
}

async fn renew(State(shared): State<AppState>, headers: HeaderMap, Form(form): Form<Params>) -> Response {
    let (app, refresh) = match checked(&shared, &headers, &form, Endpoint::KiteRefreshToken, "refresh_token").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let api_key = app.client_id.as_str();
    let login_at = {
        let registry = shared.registry.lock().expect("registry lock");
        match registry.refresh.get(refresh) {
            Some(g) if !g.revoked && g.client_id == api_key => g.login_at,
            _ => return kite_error(StatusCode::FORBIDDEN, "TokenException", "Token is invalid or has expired."),
        }
    };
    let access = issue_access(&shared, api_key, Utc::now());
    kite_ok(session_data(&shared, api_key, &access, refresh, login_at))
}

/// `Authorization: token api_key:access_token`.
fn authorized(shared: &AppState, headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (api_key, token) = value.strip_prefix("token ")?.split_once(':')?;
    shared
        .registry
        .lock()
        .expect("registry lock")
        .access_valid(token, Some(api_key))
        .then(|| (api_key.to_owned(), token.to_owned()))
}

async fn profile(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = version_ok(&headers) {
        return r;
    }
    if let Some(r) = intercept(&shared, Endpoint::KiteProfile).await {
        return r;
    }
    let Some((api_key, _)) = authorized(&shared, &headers) else {
        return kite_error(StatusCode::FORBIDDEN, "TokenException", "Incorrect `api_key` or `access_token`.");
    };
    let app = shared.config.app(&[ProviderKind::Kite], &api_key).expect("token issued to a registered app");
    kite_ok(profile_of(app))
}

async fn logout(State(shared): State<AppState>, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    if let Some(r) = version_ok(&headers) {
        return r;
    }
    if let Some(r) = intercept(&shared, Endpoint::KiteLogout).await {
        return r;
    }
    let (Some(api_key), Some(token)) = (q.get("api_key"), q.get("access_token")) else {
        return kite_error(StatusCode::BAD_REQUEST, "InputException", "Missing `api_key` or `access_token`.");
    };
    let mut registry = shared.registry.lock().expect("registry lock");
    if registry.access_client(token).as_deref() != Some(api_key.as_str()) {
        return kite_error(StatusCode::FORBIDDEN, "TokenException", "Incorrect `api_key` or `access_token`.");
    }
    registry.revoke_access(token);
    kite_ok(json!(true))
}

pub(crate) struct Kite;

impl crate::broker::Broker for Kite {
    fn routes(&self) -> Router<AppState> {
        routes()
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[Endpoint::KiteSessionToken, Endpoint::KiteRefreshToken, Endpoint::KiteProfile, Endpoint::KiteLogout]
    }

    fn outage(&self, status: StatusCode) -> Response {
        let kind = match status.as_u16() {
            502 | 504 => "DataException",
            503 => "NetworkException",
            400 => "InputException",
            _ => "GeneralException",
        };
        kite_error(status, kind, "Something went wrong. Please try again.")
    }

    fn invalid_token(&self, _: Endpoint) -> Response {
        kite_error(StatusCode::FORBIDDEN, "TokenException", "Token is invalid or has expired.")
    }

    fn rate_limited(&self) -> Response {
        kite_error(StatusCode::TOO_MANY_REQUESTS, "NetworkException", "Too many requests")
    }

    fn hostile_token(&self) -> Response {
        kite_ok(json!({
            "user_id": "AB1234", "user_name": "Hostile", "access_token": crate::HOSTILE_TOKEN, "refresh_token": "",
            "login_time": "2026-01-01 09:00:00"
        }))
    }
}

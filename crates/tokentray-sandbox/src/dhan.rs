//! Dhan v2, the API-key login: `generate-consent` with the app's key and
//! secret, the consent login page, `consumeApp-consent` for the token,
//! `RenewToken` and the profile (docs/providers/dhan.md).
//!
//! Where Dhan's behaviour is unknown, the sandbox is strict and says so:
//! auth.dhan.co's refusals use api.dhan.co's error shape, a new token ends
//! the client's earlier ones ("only one token"), and renewal answers in the
//! consent's shape.

use crate::authorize::{error_page, finish, with_query};
use crate::fault::intercept;
use crate::reply::{dhan_error, json, jwt};
use crate::{App, AppState, Endpoint};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::HashMap;
use tokentray_core::ProviderKind;

/// Dhan's endpoints a test can break.
#[allow(non_upper_case_globals)]
impl Endpoint {
    pub const DhanConsent: Endpoint = Endpoint("dhan_consent");
    pub const DhanConsume: Endpoint = Endpoint("dhan_consume");
    pub const DhanRenew: Endpoint = Endpoint("dhan_renew");
    pub const DhanProfile: Endpoint = Endpoint("dhan_profile");
    pub const DhanStaticIp: Endpoint = Endpoint("dhan_static_ip");
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/generate-consent", post(generate_consent))
        .route("/login/consentApp-login", get(consent_login))
        .route("/app/consumeApp-consent", get(consume_consent))
        .route("/v2/RenewToken", get(renew))
        .route("/v2/profile", get(profile))
        .route("/v2/ip/getIP", get(get_ip))
}

type Params = HashMap<String, String>;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The app whose `app_id` and `app_secret` headers these are.
fn app_of<'a>(shared: &'a AppState, headers: &HeaderMap) -> Result<&'a App, Response> {
    shared
        .config
        .app(&[ProviderKind::Dhan], header(headers, "app_id"))
        .filter(|a| a.client_secret == header(headers, "app_secret"))
        .ok_or_else(|| {
            dhan_error(StatusCode::UNAUTHORIZED, "Invalid_Authentication", "DH-901", "Invalid app_id or app_secret")
        })
}

async fn generate_consent(State(shared): State<AppState>, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::DhanConsent).await {
        return r;
    }
    let app = match app_of(&shared, &headers) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if q.get("client_id") != Some(&app.user_id) {
        return dhan_error(StatusCode::BAD_REQUEST, "Input_Exception", "DH-905", "Invalid client_id");
    }
    let id = shared.registry.lock().expect("registry lock").issue_consent(&app.client_id);
    json(StatusCode::OK, json!({"consentAppId": id, "consentAppStatus": "GENERATED", "status": "success"}))
}

/// The user logs in on Dhan's page; Dhan redirects with a token id and no state.
async fn consent_login(State(shared): State<AppState>, Query(q): Query<Params>) -> Response {
    let id = q.get("consentAppId").map(String::as_str).unwrap_or("");
    let client = shared.registry.lock().expect("registry lock").take_consent(id, shared.config.code_ttl);
    let Some(app) = client.and_then(|c| shared.config.app(&[ProviderKind::Dhan], &c)) else {
        return error_page("This consent is unknown, used or expired: start the login again.");
    };
    let token_id = shared.registry.lock().expect("registry lock").issue_code(&app.client_id, None, None);
    // As the docs write it: `{redirect_URL}/?tokenId=..`, a `/` added to the registered URL.
    let slashed = match app.redirect_uri.ends_with('/') {
        true => app.redirect_uri.clone(),
        false => format!("{}/", app.redirect_uri),
    };
    let approve = with_query(&slashed, &[("tokenId", token_id.as_str())]);
    finish(&shared, "Dhan", &approve, &app.redirect_uri)
}

fn issue(shared: &AppState, app: &App, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
    let expires = crate::ist::expiry(&shared.config, &app.client_id, now, |t| t + chrono::TimeDelta::hours(24));
    let token = jwt(json!({
        "iss": "dhan", "partnerId": "", "exp": expires.timestamp(), "iat": now.timestamp(),
        "tokenConsumerType": "APP", "dhanClientId": app.user_id
    }));
    let mut registry = shared.registry.lock().expect("registry lock");
    // One token at a time: a new one ends the earlier ones.
    registry.revoke_client_access(&app.client_id);
    (registry.issue_access(&app.client_id, expires, token), expires)
}

fn token_answer(app: &App, token: &str, expires: DateTime<Utc>) -> Response {
    json(
        StatusCode::OK,
        json!({
            "dhanClientId": app.user_id, "dhanClientName": "SANDBOX TRADER", "dhanClientUcc": "SBX0000",
            "givenPowerOfAttorney": false, "accessToken": token,
            "expiryTime": expires.with_timezone(&crate::ist::offset()).format("%Y-%m-%dT%H:%M:%S").to_string()
        }),
    )
}

async fn consume_consent(State(shared): State<AppState>, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::DhanConsume).await {
        return r;
    }
    let app = match app_of(&shared, &headers) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let token_id = q.get("tokenId").map(String::as_str).unwrap_or("");
    let taken =
        shared.registry.lock().expect("registry lock").take_code(token_id, &app.client_id, shared.config.code_ttl);
    if taken.is_err() {
        return dhan_error(StatusCode::BAD_REQUEST, "Input_Exception", "DH-905", "Invalid or expired tokenId");
    }
    let (token, expires) = issue(&shared, app, Utc::now());
    token_answer(app, &token, expires)
}

fn invalid_token() -> Response {
    dhan_error(
        StatusCode::UNAUTHORIZED,
        "Invalid_Authentication",
        "DH-901",
        "Client ID or user generated access token is invalid or expired.",
    )
}

/// The live token in `access-token`, with `dhanClientId` naming its client.
fn authorized<'a>(shared: &'a AppState, headers: &HeaderMap) -> Option<(&'a App, String)> {
    let token = header(headers, "access-token");
    let registry = shared.registry.lock().expect("registry lock");
    let app = shared.config.app(&[ProviderKind::Dhan], &registry.access_client(token)?)?;
    (registry.access_valid(token, None) && header(headers, "dhanclientid") == app.user_id)
        .then(|| (app, token.to_owned()))
}

async fn renew(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::DhanRenew).await {
        return r;
    }
    let Some((app, _)) = authorized(&shared, &headers) else {
        return invalid_token();
    };
    let (token, expires) = issue(&shared, app, Utc::now());
    token_answer(app, &token, expires)
}

async fn profile(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::DhanProfile).await {
        return r;
    }
    let Some((app, token)) = authorized(&shared, &headers) else {
        return invalid_token();
    };
    let expires = shared.registry.lock().expect("registry lock").access.get(&token).map(|g| g.expires_at);
    let validity = expires.map(|e| e.with_timezone(&crate::ist::offset()).format("%d/%m/%Y %H:%M").to_string());
    json(
        StatusCode::OK,
        json!({
            "dhanClientId": app.user_id, "tokenValidity": validity, "activeSegment": "Equity, Derivative",
            "ddpi": "Deactive", "mtf": "Deactive", "dataPlan": "Deactive", "dataValidity": "2026-01-01 00:00:00.0"
        }),
    )
}

/// `GET /v2/ip/getIP` (dhanhq.co/docs/v2/authentication, "Setup Static
/// IP"): each address with the first day it may be changed again.
async fn get_ip(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::DhanStaticIp).await {
        return r;
    }
    let token = header(&headers, "access-token");
    let client = {
        let registry = shared.registry.lock().expect("registry lock");
        registry.access_valid(token, None).then(|| registry.access_client(token)).flatten()
    };
    let Some(client_id) = client else {
        return invalid_token();
    };
    let r = shared.static_ips.lock().expect("static ips lock").of(&client_id);
    let allowed = r.changed_at.map(|t| {
        (t + crate::static_ip::CHANGE_LOCK).with_timezone(&crate::ist::offset()).format("%Y-%m-%d").to_string()
    });
    json(
        StatusCode::OK,
        json!({
            "modifyDateSecondary": r.secondary.as_ref().and(allowed.clone()), "secondaryIP": r.secondary,
            "modifyDatePrimary": allowed, "primaryIP": r.primary
        }),
    )
}

pub(crate) struct Dhan;

impl crate::broker::Broker for Dhan {
    fn routes(&self) -> Router<AppState> {
        routes()
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[
            Endpoint::DhanConsent,
            Endpoint::DhanConsume,
            Endpoint::DhanRenew,
            Endpoint::DhanProfile,
            Endpoint::DhanStaticIp,
        ]
    }

    fn outage(&self, status: StatusCode) -> Response {
        dhan_error(status, "Internal_Server_Error", "DH-908", "Internal server error")
    }

    fn invalid_token(&self, _: Endpoint) -> Response {
        dhan_error(
            StatusCode::UNAUTHORIZED,
            "Invalid_Authentication",
            "DH-901",
            "Client ID or user generated access token is invalid or expired.",
        )
    }

    fn rate_limited(&self) -> Response {
        dhan_error(StatusCode::TOO_MANY_REQUESTS, "Rate_Limit", "DH-904", "Too many requests")
    }

    fn hostile_token(&self) -> Response {
        crate::reply::json(
            StatusCode::OK,
            json!({"dhanClientId": "AB1234", "accessToken": crate::HOSTILE_TOKEN, "expiryTime": "2030-01-01T09:00:00"}),
        )
    }
}

//! Upstox API v2: authorization dialog, code exchange (form body, flat
//! response, JWT access token and the year-long read-only extended token),
//! profile, market status and logout. The read-only tokens (extended, and
//! analytics made in the "console", [`crate::Sandbox::make_upstox_analytics_token`])
//! are refused by the profile with `UDAPI100067`, the stricter of what
//! Upstox documents; market status takes any live token.

use crate::authorize::{error_page, finish, with_query};
use crate::fault::intercept;
use crate::reply::{json, random_token, upstox_error};
use crate::{AppState, Endpoint};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::HashMap;
use tokentray_core::ProviderKind;

/// Upstox's endpoints a test can break.
#[allow(non_upper_case_globals)]
impl Endpoint {
    pub const UpstoxToken: Endpoint = Endpoint("upstox_token");
    pub const UpstoxProfile: Endpoint = Endpoint("upstox_profile");
    pub const UpstoxLogout: Endpoint = Endpoint("upstox_logout");
    pub const UpstoxStaticIp: Endpoint = Endpoint("upstox_static_ip");
    pub const UpstoxMarketStatus: Endpoint = Endpoint("upstox_market_status");
}

/// "valid for one year from the date it is generated".
const READ_ONLY_LIFE: chrono::TimeDelta = chrono::TimeDelta::days(365);

/// A read-only token for `client_id` (its extended or analytics token),
/// issued now and live for a year.
pub(crate) fn issue_read_only(shared: &AppState, client_id: &str, user_id: &str) -> String {
    let now = Utc::now();
    let expires = crate::ist::expiry(&shared.config, client_id, now, |t| t + READ_ONLY_LIFE);
    let mut registry = shared.registry.lock().expect("registry lock");
    let token = registry.issue_access(client_id, expires, jwt(user_id, now, expires));
    registry.read_only.insert(token.clone());
    token
}

/// An app for an Upstox account of any kind: the read-only accounts log in
/// (or paste) with the same app.
pub(crate) const KINDS: &[ProviderKind] =
    &[ProviderKind::Upstox, ProviderKind::UpstoxExtended, ProviderKind::UpstoxAnalytics];

fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/login/authorization/dialog", get(dialog))
        .route("/v2/login/authorization/token", post(token))
        .route("/v2/user/profile", get(profile))
        .route("/v2/logout", delete(logout))
        .route("/v2/user/ip", get(user_ip).put(change_user_ip))
        .route("/v2/market/status/{exchange}", get(market_status))
        .route("/developer/apps", get(console))
}

type Params = HashMap<String, String>;

/// A JWT shaped like Upstox's: clients read `exp`, nobody checks the signature here.
fn jwt(user_id: &str, issued: DateTime<Utc>, expires: DateTime<Utc>) -> String {
    crate::reply::jwt(json!({
        "sub": user_id, "jti": random_token(8), "isMultiClient": false, "iss": "udapi-gateway-service",
        "iat": issued.timestamp(), "exp": expires.timestamp()
    }))
}

fn bad_client() -> Response {
    upstox_error(
        StatusCode::BAD_REQUEST,
        "UDAPI100068",
        "Check your 'client_id' and 'redirect_uri'; one or both are incorrect.",
    )
}

async fn dialog(State(shared): State<AppState>, Query(q): Query<Params>) -> Response {
    if q.get("response_type").map(String::as_str) != Some("code") {
        return error_page("response_type must be `code`.");
    }
    let app = q.get("client_id").and_then(|c| shared.config.app(KINDS, c));
    let Some(app) = app.filter(|a| q.get("redirect_uri") == Some(&a.redirect_uri)) else {
        return bad_client();
    };
    let code = shared.registry.lock().expect("registry lock").issue_code(&app.client_id, Some(&app.redirect_uri), None);
    let state = q.get("state").map(String::as_str);
    let mut approve = vec![("code", code.as_str())];
    let mut deny = vec![("error", "access_denied")];
    if let Some(s) = state {
        approve.push(("state", s));
        deny.push(("state", s));
    }
    finish(&shared, "Upstox", &with_query(&app.redirect_uri, &approve), &with_query(&app.redirect_uri, &deny))
}

async fn token(State(shared): State<AppState>, Form(form): Form<Params>) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::UpstoxToken).await {
        return r;
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("grant_type") != "authorization_code" {
        return upstox_error(StatusCode::BAD_REQUEST, "UDAPI100016", "Invalid Credentials");
    }
    for name in ["code", "client_id", "client_secret", "redirect_uri"] {
        if field(name).is_empty() {
            return upstox_error(StatusCode::BAD_REQUEST, "UDAPI1000", &format!("{name} is required"));
        }
    }
    // The code is spent by any attempt, successful or not.
    let taken = shared.registry.lock().expect("registry lock").take_code(
        field("code"),
        field("client_id"),
        shared.config.code_ttl,
    );
    let Some(app) = shared.config.app(KINDS, field("client_id")) else {
        return bad_client();
    };
    if app.redirect_uri != field("redirect_uri") {
        return bad_client();
    }
    if app.client_secret != field("client_secret") || taken.is_err() {
        return upstox_error(StatusCode::UNAUTHORIZED, "UDAPI100016", "Invalid Credentials");
    }
    let now = Utc::now();
    let expires = crate::ist::expiry(&shared.config, &app.client_id, now, |t| crate::ist::next(t, 3, 30));
    let access = shared.registry.lock().expect("registry lock").issue_access(
        &app.client_id,
        expires,
        jwt(&app.user_id, now, expires),
    );
    // The extended token stays the same across logins while it lives, unless
    // the exchange asks for a new one (`refresh_extended_token=true`).
    let kept = {
        let registry = shared.registry.lock().expect("registry lock");
        registry.extended.get(&app.client_id).filter(|t| registry.access_valid(t, None)).cloned()
    };
    let extended = match (kept, field("refresh_extended_token") == "true") {
        (Some(token), false) => token,
        (old, _) => {
            let token = issue_read_only(&shared, &app.client_id, &app.user_id);
            let mut registry = shared.registry.lock().expect("registry lock");
            if let Some(old) = old {
                registry.revoke_access(&old);
            }
            registry.extended.insert(app.client_id.clone(), token.clone());
            token
        }
    };
    json(
        StatusCode::OK,
        json!({
            "email": format!("{}@sandbox.invalid", app.user_id.to_lowercase()),
            "exchanges": ["NSE", "NFO", "BSE", "CDS", "BFO", "BCD", "MCX"],
            "products": ["D", "I", "CO", "MTF"],
            "broker": "UPSTOX",
            "user_id": app.user_id,
            "user_name": "Sandbox Trader",
            "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
            "user_type": "individual",
            "poa": false,
            "ddpi": false,
            "is_active": true,
            "access_token": access,
            "extended_token": extended
        }),
    )
}

fn bearer(shared: &AppState, headers: &HeaderMap) -> Option<(String, String)> {
    let token = headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ")?;
    let registry = shared.registry.lock().expect("registry lock");
    registry.access_valid(token, None).then(|| (registry.access_client(token).unwrap_or_default(), token.to_owned()))
}

fn invalid_token() -> Response {
    upstox_error(StatusCode::UNAUTHORIZED, "UDAPI100050", "Invalid token used to access API")
}

async fn profile(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::UpstoxProfile).await {
        return r;
    }
    let Some((client_id, token)) = bearer(&shared, &headers) else {
        return invalid_token();
    };
    if shared.registry.lock().expect("registry lock").read_only.contains(&token) {
        return not_permitted();
    }
    let app = shared.config.app(KINDS, &client_id).expect("token issued to a registered app");
    json(
        StatusCode::OK,
        json!({"status": "success", "data": {
            "email": format!("{}@sandbox.invalid", app.user_id.to_lowercase()),
            "exchanges": ["NSE", "NFO", "BSE"], "products": ["D", "I"], "broker": "UPSTOX",
            "user_id": app.user_id, "user_name": "Sandbox Trader", "order_types": ["MARKET", "LIMIT"],
            "user_type": "individual", "poa": false, "is_active": true
        }}),
    )
}

/// The developer console's Analytics tab, where a person makes the token
/// to paste (the demo's; tests mint one with `make_upstox_analytics_token`).
async fn console(State(shared): State<AppState>) -> Response {
    let app = shared.config.apps.iter().find(|a| a.provider == ProviderKind::UpstoxAnalytics);
    let Some(app) = app else {
        return error_page("No app here has an analytics token to make.");
    };
    // The live token if there is one (a visit makes nothing new), else a new one.
    let current = {
        let registry = shared.registry.lock().expect("registry lock");
        registry.analytics.get(&app.client_id).filter(|t| registry.access_valid(t, None)).cloned()
    };
    let token = match current {
        Some(token) => token,
        None => {
            let token = issue_read_only(&shared, &app.client_id, &app.user_id);
            shared.registry.lock().expect("registry lock").analytics.insert(app.client_id.clone(), token.clone());
            token
        }
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sandbox Upstox apps</title></head>\
         <body><h1>TokenTray sandbox: Upstox developer apps, Analytics</h1>\
         <p>Your analytics token (read-only, a year). Copy it into TokenTray:</p>\
         <p><code id=\"token\">{token}</code></p></body></html>"
    );
    (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

fn not_permitted() -> Response {
    upstox_error(
        StatusCode::UNAUTHORIZED,
        "UDAPI100067",
        "The API you are trying to access is not permitted with an extended_token",
    )
}

/// `GET /v2/market/status/{exchange}`: on the analytics token's list.
async fn market_status(
    State(shared): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(exchange): axum::extract::Path<String>,
) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::UpstoxMarketStatus).await {
        return r;
    }
    if bearer(&shared, &headers).is_none() {
        return invalid_token();
    }
    json(
        StatusCode::OK,
        json!({"status": "success", "data": {
            "exchange": exchange, "status": "NormalOpen", "last_updated": Utc::now().timestamp_millis()
        }}),
    )
}

async fn logout(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::UpstoxLogout).await {
        return r;
    }
    let Some((_, token)) = bearer(&shared, &headers) else {
        return invalid_token();
    };
    shared.registry.lock().expect("registry lock").revoke_access(&token);
    json(StatusCode::OK, json!({"status": "success", "message": "Logout successful", "data": true}))
}

/// The IPs as Upstox writes them (upstox.com/developer/api-documentation/get-app-static-ips):
/// `*_updated_at` in the server's time, which for Upstox is IST.
fn ip_data(app: &crate::App, r: &crate::static_ip::Registered) -> serde_json::Value {
    let at = r.changed_at.map(|t| t.with_timezone(&crate::ist::offset()).format("%Y-%m-%d %H:%M:%S").to_string());
    json!({
        "user_id": app.user_id, "primary_ip": r.primary, "secondary_ip": r.secondary,
        "primary_ip_updated_at": at, "secondary_ip_updated_at": r.secondary.as_ref().and(at.clone())
    })
}

async fn user_ip(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::UpstoxStaticIp).await {
        return r;
    }
    let Some((client_id, _)) = bearer(&shared, &headers) else {
        return invalid_token();
    };
    let app = shared.config.app(KINDS, &client_id).expect("token issued to a registered app");
    let registered = shared.static_ips.lock().expect("static ips lock").of(&client_id);
    json(StatusCode::OK, json!({"status": "success", "data": ip_data(app, &registered)}))
}

/// `PUT /v2/user/ip` (update-app-static-ips): once a week (here a rolling 7 days), and the
/// app's access tokens end with the change.
async fn change_user_ip(
    State(shared): State<AppState>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<serde_json::Value>,
) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::UpstoxStaticIp).await {
        return r;
    }
    let Some((client_id, _)) = bearer(&shared, &headers) else {
        return invalid_token();
    };
    let field = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let Some(primary) = field("primary_ip") else {
        return upstox_error(StatusCode::BAD_REQUEST, "UDAPI1182", "Primary IP is required");
    };
    if primary.parse::<std::net::IpAddr>().is_err() {
        return upstox_error(StatusCode::BAD_REQUEST, "UDAPI1183", "Invalid IP");
    }
    let changed = shared.static_ips.lock().expect("static ips lock").change(
        &client_id,
        Some(primary),
        field("secondary_ip"),
        Utc::now(),
    );
    let Some(registered) = changed else {
        return upstox_error(StatusCode::BAD_REQUEST, "UDAPI1185", "Static IP can only be updated once per week");
    };
    shared.registry.lock().expect("registry lock").revoke_client_access(&client_id);
    let app = shared.config.app(KINDS, &client_id).expect("token issued to a registered app");
    let mut data = ip_data(app, &registered);
    data["access_tokens_invalidated"] = json!(true);
    json(StatusCode::OK, json!({"status": "success", "data": data}))
}

pub(crate) struct Upstox;

impl crate::broker::Broker for Upstox {
    fn routes(&self) -> Router<AppState> {
        routes()
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[
            Endpoint::UpstoxToken,
            Endpoint::UpstoxProfile,
            Endpoint::UpstoxLogout,
            Endpoint::UpstoxStaticIp,
            Endpoint::UpstoxMarketStatus,
        ]
    }

    fn outage(&self, status: StatusCode) -> Response {
        upstox_error(status, "UDAPI100500", "Something went wrong")
    }

    fn invalid_token(&self, _: Endpoint) -> Response {
        upstox_error(StatusCode::UNAUTHORIZED, "UDAPI100050", "Invalid token used to access API")
    }

    fn rate_limited(&self) -> Response {
        upstox_error(StatusCode::TOO_MANY_REQUESTS, "UDAPI10005", "Too Many Request Sent")
    }

    fn hostile_token(&self) -> Response {
        crate::reply::json(
            StatusCode::OK,
            json!({"user_id": "U1", "access_token": crate::HOSTILE_TOKEN, "extended_token": crate::HOSTILE_TOKEN}),
        )
    }
}

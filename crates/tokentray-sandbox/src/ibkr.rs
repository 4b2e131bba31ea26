//! Interactive Brokers' Client Portal gateway (docs/providers/ibkr.md): its
//! login page at `/` (Approve stands for the username, password and
//! two-factor step), `/v1/api/tickle`, `/v1/api/iserver/auth/status`,
//! `/v1/api/iserver/auth/ssodh/init` and `/v1/api/logout`. One gateway,
//! one user: the first IBKR app. As the real gateway, a session idle
//! past its timeout is gone, a brokerage session can time out while the
//! gateway stays logged in, and a login elsewhere makes it `competing`
//! ([`crate::Sandbox::ibkr_login_elsewhere`]).

use crate::authorize::{error_page, finish};
use crate::fault::intercept;
use crate::registry::GatewaySession;
use crate::reply::{json, random_token};
use crate::{AppState, Endpoint};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{TimeDelta, Utc};
use serde_json::json;
use tokentray_core::ProviderKind;

/// IBKR's endpoints a test can break.
#[allow(non_upper_case_globals)]
impl Endpoint {
    pub const IbkrTickle: Endpoint = Endpoint("ibkr_tickle");
    pub const IbkrAuthStatus: Endpoint = Endpoint("ibkr_auth_status");
}

/// "Sessions will time out after approximately 6 minutes without sending new requests".
const IDLE_TIMEOUT: TimeDelta = TimeDelta::minutes(6);
/// What `ssoExpires` counts down from after each request (IBKR's sample: 460311 ms).
const SSO_WINDOW: TimeDelta = TimeDelta::milliseconds(460_311);

fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(login_page))
        .route("/sso/Dispatcher", get(logged_in))
        .route("/v1/api/tickle", post(tickle))
        .route("/v1/api/iserver/auth/status", post(auth_status))
        .route("/v1/api/iserver/auth/ssodh/init", post(ssodh_init))
        .route("/v1/api/logout", post(logout))
}

fn not_authenticated() -> Response {
    json(StatusCode::UNAUTHORIZED, json!({"error": "not authenticated", "statusCode": 401}))
}

fn client(shared: &AppState) -> Option<&crate::App> {
    shared.config.apps.iter().find(|a| a.provider == ProviderKind::Ibkr)
}

/// The page at `/`: the user name, password and second factor, here one Approve.
async fn login_page(State(shared): State<AppState>) -> Response {
    if client(&shared).is_none() {
        return error_page("This sandbox runs no IBKR gateway.");
    }
    finish(&shared, "IBKR Client Portal gateway", "/sso/Dispatcher", "/")
}

async fn logged_in(State(shared): State<AppState>) -> Response {
    let Some(app) = client(&shared) else {
        return error_page("This sandbox runs no IBKR gateway.");
    };
    let id = random_token(16);
    let now = Utc::now();
    let reset =
        crate::ist::expiry(&shared.config, &app.client_id, now, tokentray_core::expiry::new_york_midnight_after);
    let mut registry = shared.registry.lock().expect("registry lock");
    registry.revoke_client_access(&app.client_id);
    registry.issue_access(&app.client_id, reset, id.clone());
    registry.ibkr = Some(GatewaySession { id, last_request: now, brokerage: true, competing: false });
    // The gateway's own words once the login is through.
    (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "text/html")], "Client login succeeds").into_response()
}

/// The live session, touched by this request; `None` once idle too long,
/// past the reset, or logged out.
fn live(shared: &AppState) -> Option<GatewaySession> {
    let mut registry = shared.registry.lock().expect("registry lock");
    let now = Utc::now();
    let session = registry.ibkr.clone()?;
    if now - session.last_request >= IDLE_TIMEOUT || !registry.access_valid(&session.id, None) {
        registry.ibkr = None;
        return None;
    }
    let touched = GatewaySession { last_request: now, ..session };
    registry.ibkr = Some(touched.clone());
    Some(touched)
}

fn auth_status_of(s: &GatewaySession) -> serde_json::Value {
    json!({
        "authenticated": s.brokerage && !s.competing, "competing": s.competing, "connected": true,
        "message": "", "MAC": "98:B2:C3:45:DE:F6",
        "serverInfo": {"serverName": "JifN19053", "serverVersion": "Build 10.25.0p, Dec 5, 2026"},
        "hardware_info": "3b0679ee|98:A2:B3:23:BC:A0", "fail": ""
    })
}

async fn tickle(State(shared): State<AppState>) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::IbkrTickle).await {
        return r;
    }
    let Some(s) = live(&shared) else {
        return not_authenticated();
    };
    json(
        StatusCode::OK,
        json!({
            "session": s.id, "ssoExpires": SSO_WINDOW.num_milliseconds(), "collission": false, "userId": 12345678,
            "hmds": {"error": "no bridge"}, "iserver": {"authStatus": auth_status_of(&s)}
        }),
    )
}

async fn auth_status(State(shared): State<AppState>) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::IbkrAuthStatus).await {
        return r;
    }
    match live(&shared) {
        Some(s) => json(StatusCode::OK, auth_status_of(&s)),
        None => not_authenticated(),
    }
}

/// Starts the brokerage session again; with `compete` it takes it from another login.
async fn ssodh_init(State(shared): State<AppState>, body: axum::Json<serde_json::Value>) -> Response {
    if body.get("publish").and_then(serde_json::Value::as_bool) != Some(true) {
        return json(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "publish must be true"}));
    }
    let Some(mut s) = live(&shared) else {
        return not_authenticated();
    };
    let compete = body.get("compete").and_then(serde_json::Value::as_bool).unwrap_or(false);
    if !s.competing || compete {
        s.brokerage = true;
        s.competing = false;
    }
    shared.registry.lock().expect("registry lock").ibkr = Some(s.clone());
    json(StatusCode::OK, auth_status_of(&s))
}

async fn logout(State(shared): State<AppState>) -> Response {
    let mut registry = shared.registry.lock().expect("registry lock");
    if let Some(s) = registry.ibkr.take() {
        registry.revoke_access(&s.id);
    }
    json(StatusCode::OK, json!({"status": true}))
}

pub(crate) struct Ibkr;

impl crate::broker::Broker for Ibkr {
    fn routes(&self) -> Router<AppState> {
        routes()
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[Endpoint::IbkrTickle, Endpoint::IbkrAuthStatus]
    }

    fn outage(&self, status: StatusCode) -> Response {
        json(status, json!({"error": "Service Unavailable", "statusCode": status.as_u16()}))
    }

    fn invalid_token(&self, _: Endpoint) -> Response {
        not_authenticated()
    }

    fn rate_limited(&self) -> Response {
        json(StatusCode::TOO_MANY_REQUESTS, json!({"error": "Too Many Requests", "statusCode": 429}))
    }

    fn hostile_token(&self) -> Response {
        json(
            StatusCode::OK,
            json!({"session": crate::HOSTILE_TOKEN, "ssoExpires": 460311, "iserver": {"authStatus": {"authenticated": true}}}),
        )
    }
}

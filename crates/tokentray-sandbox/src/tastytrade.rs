//! Tastytrade's OAuth2 (docs/providers/tastytrade.md): `/auth.html` on the
//! login host, `POST /oauth/token` with a JSON body, 15-minute access
//! tokens, refresh tokens that do not expire (nor rotate), `/customers/me`.
//! As the real API, every request must name its client in `User-Agent`
//! (`product/version`), and `/oauth/token` answers errors as
//! `{"error_code","error_description"}`, the REST API as `{"error":{...}}`.

use crate::authorize::{error_page, finish, with_query};
use crate::fault::intercept;
use crate::registry::App;
use crate::reply::{json, random_token};
use crate::{AppState, Endpoint};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::HashMap;
use tokentray_core::ProviderKind;

/// Tastytrade's endpoints a test can break.
#[allow(non_upper_case_globals)]
impl Endpoint {
    pub const TastyToken: Endpoint = Endpoint("tasty_token");
    pub const TastyCustomer: Endpoint = Endpoint("tasty_customer");
}

const KINDS: &[ProviderKind] = &[ProviderKind::Tastytrade];
/// "It's valid for 15 minutes" (developer.tastytrade.com, get-started).
const EXPIRES_IN: i64 = 900;

fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth.html", get(authorize))
        .route("/oauth/token", post(token))
        .route("/customers/me", get(customer))
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    json(status, json!({"error_code": code, "error_description": description}))
}

fn rest_error(status: StatusCode, code: &str, message: &str) -> Response {
    json(status, json!({"error": {"code": code, "message": message}}))
}

/// "Requests without a User-Agent of the form product/version are rejected with a 401."
fn named_client(headers: &HeaderMap) -> Result<(), Response> {
    let agent = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("");
    match agent.split_once('/') {
        Some((product, version)) if !product.is_empty() && !version.is_empty() => Ok(()),
        _ => Err(rest_error(StatusCode::UNAUTHORIZED, "unauthorized", "User-Agent must be product/version")),
    }
}

async fn authorize(State(shared): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let app = q.get("client_id").and_then(|c| shared.config.app(KINDS, c));
    let Some(app) = app.filter(|a| q.get("redirect_uri") == Some(&a.redirect_uri)) else {
        return error_page("Unknown client_id, or redirect_uri is not one registered for it.");
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return error_page("response_type must be code.");
    }
    let scopes: Vec<&str> = q.get("scope").map(|s| s.split(' ').collect()).unwrap_or_default();
    if scopes.is_empty() || scopes.iter().any(|s| !["read", "trade", "openid"].contains(s)) {
        return error_page("scope must be among read, trade and openid.");
    }
    let state = q.get("state").cloned().unwrap_or_default();
    let code = shared.registry.lock().expect("registry lock").issue_code(&app.client_id, Some(&app.redirect_uri), None);
    let approve = with_query(&app.redirect_uri, &[("code", code.as_str()), ("state", state.as_str())]);
    let deny = with_query(&app.redirect_uri, &[("error", "access_denied"), ("state", state.as_str())]);
    finish(&shared, "Tastytrade", &approve, &deny)
}

fn tokens(shared: &AppState, app: &App, refresh: Option<&str>) -> Response {
    let expires_in = shared.config.access_ttl_for(&app.client_id).map_or(EXPIRES_IN, |d| d.as_secs() as i64);
    let access = shared.registry.lock().expect("registry lock").issue_access(
        &app.client_id,
        Utc::now() + chrono::TimeDelta::seconds(expires_in),
        random_token(24),
    );
    let mut body = json!({"access_token": access, "token_type": "Bearer", "expires_in": expires_in});
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    json(StatusCode::OK, body)
}

async fn token(State(shared): State<AppState>, headers: HeaderMap, body: Option<Json<Value>>) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::TastyToken).await {
        return r;
    }
    if let Err(r) = named_client(&headers) {
        return r;
    }
    let Some(Json(body)) = body else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "The body must be JSON");
    };
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or("");
    let invalid_grant = || oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid JWT");
    // The secret names the client; a client_id, where sent, must match it.
    let app = shared
        .config
        .apps
        .iter()
        .find(|a| a.provider == ProviderKind::Tastytrade && a.client_secret == field("client_secret"));
    let Some(app) = app.filter(|a| body.get("client_id").is_none() || field("client_id") == a.client_id) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed");
    };
    match field("grant_type") {
        "authorization_code" => {
            let taken = shared.registry.lock().expect("registry lock").take_code(
                field("code"),
                &app.client_id,
                shared.config.code_ttl,
            );
            match taken {
                Ok(grant) if grant.redirect_uri.as_deref() == Some(field("redirect_uri")) => {}
                _ => return invalid_grant(),
            }
            let refresh = {
                let mut registry = shared.registry.lock().expect("registry lock");
                registry.revoke_client_tokens(&app.client_id);
                registry.issue_refresh(&app.client_id, Utc::now())
            };
            tokens(&shared, app, Some(&refresh))
        }
        "refresh_token" => {
            let live =
                shared.registry.lock().expect("registry lock").refresh_grant(field("refresh_token"), &app.client_id);
            // Refresh tokens never expire: only a deleted grant ends them.
            match live {
                Some(grant) if !grant.revoked => tokens(&shared, app, None),
                _ => invalid_grant(),
            }
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Unsupported grant_type"),
    }
}

async fn customer(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::TastyCustomer).await {
        return r;
    }
    if let Err(r) = named_client(&headers) {
        return r;
    }
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let app = token.and_then(|t| {
        let registry = shared.registry.lock().expect("registry lock");
        registry.access_valid(t, None).then(|| registry.access_client(t)).flatten()
    });
    let Some(app) = app.and_then(|c| shared.config.app(KINDS, &c)) else {
        return invalid_token();
    };
    json(
        StatusCode::OK,
        json!({"data": {
            "id": "me", "first-name": "Sandbox", "last-name": "Trader", "email": "trader@example.com",
            "external-id": app.user_id, "is-professional": false
        }, "context": "/customers/me"}),
    )
}

fn invalid_token() -> Response {
    rest_error(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid or expired access token")
}

pub(crate) struct Tastytrade;

impl crate::broker::Broker for Tastytrade {
    fn routes(&self) -> Router<AppState> {
        routes()
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[Endpoint::TastyToken, Endpoint::TastyCustomer]
    }

    fn outage(&self, status: StatusCode) -> Response {
        rest_error(status, "internal_error", "Something went wrong")
    }

    fn invalid_token(&self, endpoint: Endpoint) -> Response {
        match endpoint {
            Endpoint::TastyToken => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid JWT"),
            _ => invalid_token(),
        }
    }

    fn rate_limited(&self) -> Response {
        rest_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests, back off")
    }

    fn hostile_token(&self) -> Response {
        json(StatusCode::OK, json!({"access_token": crate::HOSTILE_TOKEN, "token_type": "Bearer", "expires_in": 900}))
    }
}

//! The local HTTP API for trading scripts and dashboards, on 127.0.0.1 only.
//!
//! - `GET /api/token/status[?account=ID]`, `POST /api/token/force-refresh?account=ID`:
//!   the shape trading dashboards already use;
//! - `GET /v1/accounts`, `GET /v1/accounts/{id}/token` (bearer API key);
//! - `POST /v1/accounts/{id}/check` (bearer API key): a script that just got
//!   a 401/403 reports it; the provider is asked at once;
//! - `GET /v1/events`: Server-Sent Events, resumable with `Last-Event-ID`;
//! - `GET /metrics`: Prometheus text.
//!
//! Requests whose `Host` is not a loopback name are refused (DNS rebinding),
//! and so is every request a web page sent (an `Origin` header, or
//! `Sec-Fetch-Site` other than `none`): scripts send neither. No CORS header
//! is ever sent; every error is JSON with a message. Every endpoint that
//! changes something needs the API key, and a manual refresh of one account
//! comes at most every 30 s.

mod events;
mod key;
mod metrics;
mod server;
mod status;

pub use events::last_event_id;
use server::{bounded_body, EventStreams};
pub use server::{serve, serve_with, ApiLimits};

use key::{required_everywhere_if_asked, ApiKey};

use crate::{AccountStatus, Engine, EngineError, Remedy};
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
#[error("cannot serve the local API on {addr}: {source}; set another port in the config's [api] table")]
pub struct ApiError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// An error answer: a status, a message and what fixes it, as JSON.
pub(crate) struct Problem(StatusCode, String, Option<Remedy>);

impl Problem {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self(status, message.into(), None)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1, "remedy": self.2 }))).into_response()
    }
}

impl From<EngineError> for Problem {
    fn from(e: EngineError) -> Self {
        let remedy = e.remedy();
        let status = match (&e, remedy) {
            (EngineError::UnknownAccount(_), _) => StatusCode::NOT_FOUND,
            (_, Remedy::Login | Remedy::Secret) => StatusCode::CONFLICT,
            (_, Remedy::Retry) => StatusCode::SERVICE_UNAVAILABLE,
            (EngineError::CannotCheck(_), _) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Problem(status, e.to_string(), Some(remedy))
    }
}

fn router(engine: Engine, limits: ApiLimits) -> Router {
    let streams = EventStreams(std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_event_streams)));
    Router::new()
        .route("/api/token/status", get(status::token_status))
        .route("/api/token/force-refresh", post(force_refresh))
        .route("/v1/accounts", get(accounts))
        .route("/v1/accounts/{id}/token", get(token))
        .route("/v1/accounts/{id}/check", post(check))
        .route("/v1/accounts/{id}/ready", post(ready_one))
        .route("/v1/ready", post(ready_all))
        .route("/v1/events", get(events::stream))
        .route("/metrics", get(metrics::metrics))
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no such endpoint; see the README's API section") })
        .method_not_allowed_fallback(|| async {
            Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
        })
        // The last layer runs first: Host, then web pages, then the body's size, then the key.
        .layer(axum::middleware::from_fn_with_state(engine.clone(), required_everywhere_if_asked))
        .layer(axum::middleware::from_fn(move |request, next| bounded_body(limits.max_body_bytes, request, next)))
        .layer(axum::Extension(streams))
        .layer(axum::middleware::from_fn(no_web_pages))
        .layer(axum::middleware::from_fn(loopback_host_only))
        .with_state(engine)
}

/// A page on another site can make the browser send requests to 127.0.0.1
/// under its own name (DNS rebinding); those carry a foreign `Host`.
async fn loopback_host_only(request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    if !matches!(name.to_ascii_lowercase().as_str(), "127.0.0.1" | "localhost" | "::1") {
        return Problem::new(StatusCode::FORBIDDEN, format!("Host `{host}` is not a loopback name; use 127.0.0.1"))
            .into_response();
    }
    next.run(request).await
}

/// A browser adds `Origin` to cross-origin and state-changing requests and
/// `Sec-Fetch-Site` to every request; a script sends neither. A page on any
/// site (localhost included) must not drive the API with the user's token.
async fn no_web_pages(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if headers.contains_key(header::ORIGIN) || fetch_site.is_some_and(|site| site != "none") {
        return Problem::new(
            StatusCode::FORBIDDEN,
            "requests from web pages are refused; the API is for programs on this machine",
        )
        .into_response();
    }
    next.run(request).await
}

/// How often one account may be refreshed through the API: each refresh
/// rewrites the sinks and restarts `exec` children, and a broker counts them
/// against its rate limit.
pub const MANUAL_REFRESH_GAP: std::time::Duration = std::time::Duration::from_secs(30);

pub(crate) fn account_param(query: &HashMap<String, String>) -> Option<&str> {
    query.get("account").map(String::as_str).filter(|a| !a.is_empty())
}

async fn force_refresh(
    State(engine): State<Engine>,
    Query(query): Query<HashMap<String, String>>,
    _key: ApiKey,
) -> Result<Response, Problem> {
    let id = match account_param(&query) {
        Some(id) => id.to_owned(),
        None => {
            let statuses = engine.statuses();
            match statuses.as_slice() {
                [only] => only.id.clone(),
                _ => return Err(Problem::new(StatusCode::BAD_REQUEST, "name the account: ?account=ID")),
            }
        }
    };
    if let Some(wait) = engine.claim_manual_refresh(&id, MANUAL_REFRESH_GAP)? {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let message =
            format!("{id} was refreshed less than {}s ago; try again in {seconds}s", MANUAL_REFRESH_GAP.as_secs());
        let mut r = Problem::new(StatusCode::TOO_MANY_REQUESTS, message).into_response();
        r.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        return Ok(r);
    }
    // A token only a login renews is checked with the provider instead.
    let status = engine.refresh_or_check(&id).await?;
    Ok(Json(status::dashboard_view(&status, engine.now())).into_response())
}

/// A script that just got a 401/403 from the broker says so: the provider is
/// asked at once (reports in a burst share one call), the token renewed where
/// it can be, else the account turns to "login needed" everywhere.
async fn check(State(engine): State<Engine>, AccountId(id): AccountId, _key: ApiKey) -> Result<Response, Problem> {
    let status = engine.check(&id).await?;
    Ok(Json(status).into_response())
}

/// Ready to trade at the open (`tokentray ready`): it calls the broker, so it takes the key.
async fn ready_one(State(engine): State<Engine>, AccountId(id): AccountId, _key: ApiKey) -> Result<Response, Problem> {
    Ok(Json(engine.ready_anywhere(Some(&id)).await?).into_response())
}

async fn ready_all(State(engine): State<Engine>, _key: ApiKey) -> Result<Response, Problem> {
    Ok(Json(engine.ready_anywhere(None).await?).into_response())
}

/// The `{id}` of an `/v1/accounts/{id}/...` path, or a JSON 400.
struct AccountId(String);

impl FromRequestParts<Engine> for AccountId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, engine: &Engine) -> Result<Self, Problem> {
        let Path(id) = Path::<String>::from_request_parts(parts, engine)
            .await
            .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, format!("bad account in the path: {e}")))?;
        Ok(Self(id))
    }
}

async fn accounts(State(engine): State<Engine>) -> Json<Vec<AccountStatus>> {
    Json(engine.statuses())
}

/// The token itself, only with `Authorization: Bearer <api key>`.
async fn token(State(engine): State<Engine>, AccountId(id): AccountId, _key: ApiKey) -> Result<Response, Problem> {
    let config = engine.config();
    let account = config.account(&id).ok_or_else(|| EngineError::UnknownAccount(id.clone()))?;
    let tokens = engine.current_token(&id).await?;
    let status = engine.status(&id)?;
    // None where every request is signed (E*TRADE, Breeze): the script signs with what it is handed.
    let header = tokentray_adapters::provider::auth_header(account.provider, &account.api_key, &tokens.access_token);
    let (header_name, header_value) = header.map_or((None, None), |(n, v)| (Some(n), Some(v)));
    let body = json!({
        "account": id,
        "provider": account.provider,
        "access_token": tokens.access_token.expose(),
        "api_key": account.api_key,
        // The header the provider's API takes the token in (Dhan's is `access-token`).
        "header_name": header_name,
        "authorization": header_value,
        "feed_token": tokens.feed_token.as_ref().map(|t| t.expose()),
        "token_secret": tokens.token_secret.as_ref().map(|t| t.expose()),
        "read_only": account.describe().read_only,
        "expires_at": status.expires_at,
    });
    let mut r = Json(body).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, "no-store".parse().expect("valid header"));
    Ok(r)
}

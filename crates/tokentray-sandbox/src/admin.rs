//! `/_sandbox/*`: controls for the demo and for tests that drive the sandbox
//! from another process (expire tokens, inject faults, read requests).

use crate::reply::json;
use crate::{AppState, Endpoint, Fault};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_sandbox/expire-access-tokens", post(expire))
        .route("/_sandbox/revoke-refresh-tokens", post(revoke))
        .route("/_sandbox/faults", post(add_fault).delete(clear_faults))
        .route("/_sandbox/requests", get(requests))
}

#[derive(Deserialize)]
struct FaultRequest {
    endpoint: Endpoint,
    fault: Fault,
    times: Option<u32>,
}

async fn expire(State(shared): State<AppState>) -> Response {
    shared.registry.lock().expect("registry lock").expire_access_tokens();
    json(StatusCode::OK, json!({"expired": true}))
}

async fn revoke(State(shared): State<AppState>) -> Response {
    shared.registry.lock().expect("registry lock").revoke_refresh_tokens();
    json(StatusCode::OK, json!({"revoked": true}))
}

async fn add_fault(State(shared): State<AppState>, Json(f): Json<FaultRequest>) -> Response {
    shared.faults.lock().expect("faults lock").add(f.endpoint, f.fault, f.times);
    json(StatusCode::OK, json!({"added": true}))
}

async fn clear_faults(State(shared): State<AppState>) -> Response {
    shared.faults.lock().expect("faults lock").clear();
    json(StatusCode::OK, json!({"cleared": true}))
}

async fn requests(State(shared): State<AppState>) -> Response {
    let all = shared.requests.lock().expect("requests lock").clone();
    json(StatusCode::OK, serde_json::to_value(all).unwrap_or_default())
}

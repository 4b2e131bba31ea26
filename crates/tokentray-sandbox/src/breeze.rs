//! ICICI Direct Breeze (docs/providers/breeze.md): the login page
//! `/apiuser/login?api_key=`, which sends the browser back with
//! `apisession`, and `customerdetails`, a GET with a JSON body that turns
//! the session into a session token. The session lasts until midnight IST
//! and can be used again (the scripts' SDK makes its own session token).
//! As the real API, errors come back as HTTP 200 with `"Status": 500` and
//! words, not codes.

use crate::authorize::{error_page, finish, with_query};
use crate::fault::intercept;
use crate::reply::json;
use crate::{AppState, Endpoint};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::HashMap;
use tokentray_core::ProviderKind;

/// Breeze's endpoints a test can break.
#[allow(non_upper_case_globals)]
impl Endpoint {
    pub const BreezeCustomerDetails: Endpoint = Endpoint("breeze_customer_details");
}

const KINDS: &[ProviderKind] = &[ProviderKind::Breeze];

fn routes() -> Router<AppState> {
    Router::new().route("/apiuser/login", get(login)).route("/breezeapi/api/v1/customerdetails", get(customer_details))
}

/// Breeze's error: HTTP `status`, and the same status in the body.
fn breeze_error(http: StatusCode, status: u16, words: &str) -> Response {
    json(http, json!({"Success": null, "Status": status, "Error": words}))
}

async fn login(State(shared): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(app) = q.get("api_key").and_then(|k| shared.config.app(KINDS, k)) else {
        return error_page("Public Key does not exist.");
    };
    // An API session is a number, as ICICI's are.
    let session =
        format!("{}", u64::from_str_radix(&crate::reply::random_token(4), 16).unwrap_or(0) % 90_000_000 + 10_000_000);
    let expires = crate::ist::expiry(&shared.config, &app.client_id, Utc::now(), |t| crate::ist::next(t, 0, 0));
    shared.registry.lock().expect("registry lock").issue_access(&app.client_id, expires, session.clone());
    let approve = with_query(&app.redirect_uri, &[("apisession", session.as_str())]);
    finish(&shared, "ICICI Direct Breeze", &approve, &app.redirect_uri)
}

async fn customer_details(State(shared): State<AppState>, body: String) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::BreezeCustomerDetails).await {
        return r;
    }
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return breeze_error(StatusCode::OK, 500, "Request body is not valid JSON.");
    };
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or("");
    let Some(app) = shared.config.app(KINDS, field("AppKey")) else {
        return breeze_error(StatusCode::OK, 500, "Public Key does not exist.");
    };
    let session = field("SessionToken");
    let live = {
        let registry = shared.registry.lock().expect("registry lock");
        registry.access_valid(session, Some(&app.client_id))
    };
    if !live {
        return breeze_error(StatusCode::OK, 500, "Resource not available.");
    }
    let key = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", app.user_id, session));
    json(
        StatusCode::OK,
        json!({"Success": {
            "exg_trade_date": {"NSE": "08-Dec-2026", "BSE": "08-Dec-2026"},
            "exg_status": {"NSE": "O", "BSE": "O"},
            "segments_allowed": {"Trading": "Y", "Equity": "Y", "Derivatives": "Y"},
            "idirect_userid": app.user_id, "idirect_user_name": "SANDBOX TRADER", "idirect_ORD_TYP": "N",
            "session_token": key, "mf_holding_mode_popup_flg": "N", "commodity_allowed": "C"
        }, "Status": 200, "Error": null}),
    )
}

pub(crate) struct Breeze;

impl crate::broker::Broker for Breeze {
    fn routes(&self) -> Router<AppState> {
        routes()
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[Endpoint::BreezeCustomerDetails]
    }

    fn outage(&self, status: StatusCode) -> Response {
        breeze_error(status, status.as_u16(), "Service Unavailable")
    }

    fn invalid_token(&self, _: Endpoint) -> Response {
        breeze_error(StatusCode::OK, 500, "Resource not available.")
    }

    fn rate_limited(&self) -> Response {
        breeze_error(StatusCode::TOO_MANY_REQUESTS, 429, "Limit exceed: API call per minute")
    }

    fn hostile_token(&self) -> Response {
        json(
            StatusCode::OK,
            json!({"Success": {"idirect_userid": "AB1234", "session_token": crate::HOSTILE_TOKEN}, "Status": 200, "Error": null}),
        )
    }
}

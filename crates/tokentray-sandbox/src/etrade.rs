//! E*TRADE's OAuth 1.0a (docs/providers/etrade.md): request token,
//! authorize page, access token, renew, revoke, and the accounts list as
//! the cheap signed call. Every request's HMAC-SHA1 signature is checked
//! (RFC 5849 3.4, recomputed from the request's own nonce and timestamp).
//! Request tokens live 5 minutes and serve once; access tokens die at
//! midnight US Eastern and go inactive after 2 idle hours until renewed.
//! An app whose `redirect_uri` is an http URL has a callback registered
//! (E*TRADE does that on request); any other gets the verification code
//! shown on a page, as `oob` does.

use crate::authorize::error_page;
use crate::fault::intercept;
use crate::registry::{App, RequestToken};
use crate::reply::{json, random_token};
use crate::{AppState, Endpoint};
use axum::extract::{Query, State};
use axum::http::Uri;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use std::collections::HashMap;
use tokentray_core::ProviderKind;

/// E*TRADE's endpoints a test can break.
#[allow(non_upper_case_globals)]
impl Endpoint {
    pub const EtradeRequestToken: Endpoint = Endpoint("etrade_request_token");
    pub const EtradeAccessToken: Endpoint = Endpoint("etrade_access_token");
    pub const EtradeRenew: Endpoint = Endpoint("etrade_renew");
    pub const EtradeAccounts: Endpoint = Endpoint("etrade_accounts");
}

const KINDS: &[ProviderKind] = &[ProviderKind::Etrade];
const REQUEST_TOKEN_LIFE: TimeDelta = TimeDelta::minutes(5);
const IDLE_LIMIT: TimeDelta = TimeDelta::hours(2);

fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/request_token", get(request_token))
        .route("/e/t/etws/authorize", get(authorize))
        .route("/oauth/access_token", get(access_token))
        .route("/oauth/renew_access_token", get(renew))
        .route("/oauth/revoke_access_token", get(revoke))
        .route("/v1/accounts/list.json", get(accounts))
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")], body).into_response()
}

fn problem(problem: &str) -> Response {
    text(StatusCode::UNAUTHORIZED, format!("oauth_problem={problem}"))
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// The first midnight in New York after `t`.
fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    tokentray_core::expiry::new_york_midnight_after(t)
}

/// The `OAuth k="v", ...` parameters of a request (RFC 5849 3.5.1).
fn oauth_params(headers: &HeaderMap) -> Option<HashMap<String, String>> {
    let value = headers.get("authorization")?.to_str().ok()?.strip_prefix("OAuth ")?;
    value
        .split(',')
        .map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            let v = v.trim().strip_prefix('"')?.strip_suffix('"')?;
            let v = percent_decode(v)?;
            Some((k.trim().to_owned(), v))
        })
        .collect()
}

fn percent_decode(v: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={}", v.replace('+', "%2B")).as_bytes()).next().map(|(_, v)| v.into_owned())
}

/// The app and token a request is signed for, once its signature checks:
/// recomputed with the secrets the sandbox holds.
fn signed<'a>(
    shared: &'a AppState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<(&'a App, HashMap<String, String>), Response> {
    let Some(params) = oauth_params(headers) else {
        return Err(problem("parameter_absent"));
    };
    let p = |k: &str| params.get(k).map(String::as_str);
    let Some(app) = p("oauth_consumer_key").and_then(|k| shared.config.app(KINDS, k)) else {
        return Err(problem("consumer_key_rejected"));
    };
    if p("oauth_signature_method") != Some("HMAC-SHA1") {
        return Err(problem("signature_method_rejected"));
    }
    let timestamp = p("oauth_timestamp").and_then(|t| t.parse::<u64>().ok()).and_then(std::num::NonZeroU64::new);
    let fresh = timestamp.is_some_and(|t| (Utc::now().timestamp() - t.get() as i64).abs() < 300);
    if !fresh {
        return Err(problem("timestamp_refused"));
    }
    let token_secret = match p("oauth_token") {
        Some(t) => match shared.registry.lock().expect("registry lock").token_secrets.get(t) {
            Some(s) => Some(s.clone()),
            None => return Err(problem("token_rejected")),
        },
        None => None,
    };
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("");
    let url = format!("http://{host}{}", uri.path());
    let mut builder = oauth1_request::Builder::new(
        oauth1_request::Credentials::new(app.client_id.as_str(), app.client_secret.as_str()),
        oauth1_request::HMAC_SHA1,
    );
    builder
        .token(p("oauth_token").zip(token_secret.as_deref()).map(|(t, s)| oauth1_request::Credentials::new(t, s)))
        .nonce(p("oauth_nonce"))
        .timestamp(timestamp)
        .callback(p("oauth_callback"))
        .verifier(p("oauth_verifier"))
        .version(p("oauth_version").is_some());
    let expected = oauth_params_of(&builder.get(&url, &()));
    let same = expected.get("oauth_signature").map(String::as_str) == p("oauth_signature");
    match same {
        true => Ok((app, params)),
        false => Err(problem("signature_invalid")),
    }
}

fn oauth_params_of(authorization: &str) -> HashMap<String, String> {
    let mut h = HeaderMap::new();
    h.insert("authorization", authorization.parse().expect("a header the signer wrote"));
    oauth_params(&h).unwrap_or_default()
}

async fn request_token(State(shared): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::EtradeRequestToken).await {
        return r;
    }
    let (app, params) = match signed(&shared, &headers, &uri) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if params.get("oauth_callback").map(String::as_str) != Some("oob") || params.contains_key("oauth_token") {
        return problem("parameter_rejected");
    }
    // Base64-ish tokens, percent-encoded in the answer as E*TRADE's are.
    let (token, secret) = (format!("{}+/=", random_token(16)), format!("{}+/=", random_token(16)));
    let mut registry = shared.registry.lock().expect("registry lock");
    registry.token_secrets.insert(token.clone(), secret.clone());
    registry.request_tokens.insert(
        token.clone(),
        RequestToken { client_id: app.client_id.clone(), issued_at: Utc::now(), verifier: None },
    );
    text(
        StatusCode::OK,
        form(&[("oauth_token", &token), ("oauth_token_secret", &secret), ("oauth_callback_confirmed", "true")]),
    )
}

/// The user's consent: back to a registered callback, or the code on a page.
async fn authorize(State(shared): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let token = q.get("token").cloned().unwrap_or_default();
    let verifier = format!("{:05}", u32::from_str_radix(&random_token(3), 16).unwrap_or(0) % 100_000);
    let app = {
        let mut registry = shared.registry.lock().expect("registry lock");
        match registry.request_tokens.get_mut(&token) {
            Some(r) if Some(&r.client_id) == q.get("key") && Utc::now() - r.issued_at < REQUEST_TOKEN_LIFE => {
                r.verifier = Some(verifier.clone());
                shared.config.app(KINDS, &r.client_id)
            }
            _ => None,
        }
    };
    let Some(app) = app else {
        return error_page("This authorization request is unknown or has expired: start the login again.");
    };
    if app.redirect_uri.starts_with("http") {
        let back =
            crate::authorize::with_query(&app.redirect_uri, &[("oauth_token", &token), ("oauth_verifier", &verifier)]);
        return crate::authorize::finish(&shared, "E*TRADE", &back, &app.redirect_uri);
    }
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sandbox E*TRADE</title></head>\
         <body><h1>TokenTray sandbox: E*TRADE</h1><p>Copy this code into TokenTray:</p>\
         <p><code id=\"verifier\">{verifier}</code></p></body></html>"
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

async fn access_token(State(shared): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::EtradeAccessToken).await {
        return r;
    }
    let (app, params) = match signed(&shared, &headers, &uri) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let request = params.get("oauth_token").cloned().unwrap_or_default();
    let mut registry = shared.registry.lock().expect("registry lock");
    let Some(pending) = registry.request_tokens.get(&request).cloned() else {
        return problem("token_rejected");
    };
    if pending.client_id != app.client_id || Utc::now() - pending.issued_at >= REQUEST_TOKEN_LIFE {
        registry.request_tokens.remove(&request);
        return problem("token_expired");
    }
    // A mistyped code can be typed again; a right one serves once.
    if pending.verifier.is_none() || pending.verifier.as_ref() != params.get("oauth_verifier") {
        return problem("verifier_invalid");
    }
    registry.request_tokens.remove(&request);
    let now = Utc::now();
    let expires = crate::ist::expiry(&shared.config, &app.client_id, now, midnight);
    let (token, secret) = (format!("{}%=", random_token(20)), random_token(20));
    // One session per consumer key: a new login ends the earlier token.
    registry.revoke_client_access(&app.client_id);
    registry.issue_access(&app.client_id, expires, token.clone());
    registry.token_secrets.insert(token.clone(), secret.clone());
    registry.last_used.insert(token.clone(), now);
    text(StatusCode::OK, form(&[("oauth_token", &token), ("oauth_token_secret", &secret)]))
}

/// The signed access token, live (not revoked, not past midnight).
fn live_access(shared: &AppState, params: &HashMap<String, String>, app: &App) -> Result<String, Response> {
    let token = params.get("oauth_token").cloned().unwrap_or_default();
    let registry = shared.registry.lock().expect("registry lock");
    match registry.access_valid(&token, Some(&app.client_id)) {
        true => Ok(token),
        false => Err(problem("token_rejected")),
    }
}

async fn renew(State(shared): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::EtradeRenew).await {
        return r;
    }
    let token = match signed(&shared, &headers, &uri).and_then(|(app, params)| live_access(&shared, &params, app)) {
        Ok(t) => t,
        Err(r) => return r,
    };
    shared.registry.lock().expect("registry lock").last_used.insert(token, Utc::now());
    text(StatusCode::OK, "Access Token has been renewed".to_owned())
}

async fn revoke(State(shared): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let token = match signed(&shared, &headers, &uri).and_then(|(app, params)| live_access(&shared, &params, app)) {
        Ok(t) => t,
        Err(r) => return r,
    };
    shared.registry.lock().expect("registry lock").revoke_access(&token);
    text(StatusCode::OK, "Revoked Access Token".to_owned())
}

async fn accounts(State(shared): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::EtradeAccounts).await {
        return r;
    }
    let token = match signed(&shared, &headers, &uri).and_then(|(app, params)| live_access(&shared, &params, app)) {
        Ok(t) => t,
        Err(_) => return api_problem("token_rejected"),
    };
    let mut registry = shared.registry.lock().expect("registry lock");
    let now = Utc::now();
    let idle = registry.last_used.get(&token).is_none_or(|at| now - *at >= IDLE_LIMIT);
    if idle {
        return api_problem("token_expired");
    }
    registry.last_used.insert(token, now);
    json(
        StatusCode::OK,
        json!({"AccountListResponse": {"Accounts": {"Account": [
            {"accountId": "84345821", "accountIdKey": "dBZOKt9xDrtRSAOl4MSiiA", "accountMode": "MARGIN",
             "accountDesc": "Brokerage", "accountName": "", "accountType": "INDIVIDUAL",
             "institutionType": "BROKERAGE", "accountStatus": "ACTIVE", "closedDate": 0}
        ]}}}),
    )
}

/// The data API's error shape.
fn api_problem(problem: &str) -> Response {
    json(StatusCode::UNAUTHORIZED, json!({"Error": {"message": format!("oauth_problem={problem}")}}))
}

pub(crate) struct Etrade;

impl crate::broker::Broker for Etrade {
    fn routes(&self) -> Router<AppState> {
        routes()
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[Endpoint::EtradeRequestToken, Endpoint::EtradeAccessToken, Endpoint::EtradeRenew, Endpoint::EtradeAccounts]
    }

    fn outage(&self, status: StatusCode) -> Response {
        let page = "<html><body><h1>Service Unavailable</h1></body></html>";
        (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
    }

    fn invalid_token(&self, endpoint: Endpoint) -> Response {
        match endpoint {
            Endpoint::EtradeAccounts => api_problem("token_rejected"),
            _ => problem("token_rejected"),
        }
    }

    fn rate_limited(&self) -> Response {
        json(StatusCode::TOO_MANY_REQUESTS, json!({"Error": {"message": "Too many requests"}}))
    }

    fn hostile_token(&self) -> Response {
        text(StatusCode::OK, form(&[("oauth_token", crate::HOSTILE_TOKEN), ("oauth_token_secret", "s")]))
    }
}

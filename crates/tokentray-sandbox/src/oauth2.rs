//! OAuth2 as Schwab serves it (`/v1/oauth/authorize`, `/v1/oauth/token`) with
//! the generic extras: PKCE (RFC 7636), client authentication by Basic header
//! or body (RFC 6749 2.3.1), refresh rotation, revocation (RFC 7009).

use crate::authorize::{error_page, finish, with_query};
use crate::fault::intercept;
use crate::registry::App;
use crate::reply::{json, oauth_error, random_token};
use crate::{AppState, Endpoint};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tokentray_core::ProviderKind;

/// OAuth2's endpoints a test can break.
#[allow(non_upper_case_globals)]
impl Endpoint {
    pub const OAuth2Token: Endpoint = Endpoint("oauth2_token");
    pub const OAuth2Profile: Endpoint = Endpoint("oauth2_profile");
    pub const OAuth2Revoke: Endpoint = Endpoint("oauth2_revoke");
}

/// Schwab is OAuth2 with Basic client authentication: one emulation for both.
const KINDS: &[ProviderKind] = &[ProviderKind::Schwab, ProviderKind::OAuth2];

fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/oauth/authorize", get(authorize))
        .route("/v1/oauth/token", post(token))
        .route("/v1/oauth/revoke", post(revoke))
        .route("/v1/userinfo", get(profile))
        .route("/trader/v1/userPreference", get(profile))
}

type Params = HashMap<String, String>;

const DEFAULT_EXPIRES_IN: i64 = 1800;

async fn authorize(State(shared): State<AppState>, Query(q): Query<Params>) -> Response {
    let app = q.get("client_id").and_then(|c| shared.config.app(KINDS, c));
    // RFC 6749 4.1.2.1: a bad client or redirect URI is shown, never redirected to.
    let Some(app) = app.filter(|a| q.get("redirect_uri") == Some(&a.redirect_uri)) else {
        return error_page("Unknown client_id, or redirect_uri does not match the registered one.");
    };
    let state = q.get("state").cloned().unwrap_or_default();
    let error_to = |error: &str| {
        let mut pairs = vec![("error", error)];
        if !state.is_empty() {
            pairs.push(("state", state.as_str()));
        }
        crate::reply::redirect(&with_query(&app.redirect_uri, &pairs))
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return error_to("unsupported_response_type");
    }
    let challenge = q.get("code_challenge").cloned();
    match (challenge.as_deref(), q.get("code_challenge_method").map(String::as_str)) {
        (None, _) if app.require_pkce => return error_to("invalid_request"),
        (Some(_), Some("S256")) | (None, None) => {}
        _ => return error_to("invalid_request"),
    }
    let code =
        shared.registry.lock().expect("registry lock").issue_code(&app.client_id, Some(&app.redirect_uri), challenge);
    let mut approve = vec![("code", code.as_str())];
    let mut deny = vec![("error", "access_denied")];
    if !state.is_empty() {
        approve.push(("state", state.as_str()));
        deny.push(("state", state.as_str()));
    }
    finish(&shared, "OAuth2", &with_query(&app.redirect_uri, &approve), &with_query(&app.redirect_uri, &deny))
}

/// RFC 6749 2.3.1: exactly one way of authenticating the client.
fn authenticate<'a>(shared: &'a AppState, headers: &HeaderMap, form: &Params) -> Result<&'a App, Response> {
    let invalid = || oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed");
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|b| STANDARD.decode(b.trim()).ok().and_then(|d| String::from_utf8(d).ok()));
    let body = form.get("client_secret");
    let (id, secret, by_basic) = match (basic, body) {
        (Some(_), Some(_)) => {
            return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Use one client authentication method"))
        }
        (Some(Some(pair)), None) => {
            let (id, secret) = pair.split_once(':').ok_or_else(invalid)?;
            (id.to_owned(), secret.to_owned(), true)
        }
        (Some(None), None) => return Err(invalid()),
        (None, Some(secret)) => (form.get("client_id").cloned().unwrap_or_default(), secret.clone(), false),
        (None, None) => return Err(invalid()),
    };
    let app = shared.config.app(KINDS, &id).filter(|a| a.client_secret == secret).ok_or_else(invalid)?;
    if app.require_basic_auth && !by_basic {
        return Err(invalid());
    }
    Ok(app)
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn token_response(shared: &AppState, app: &App, refresh: &str, now: DateTime<Utc>) -> Response {
    let expires_in = shared.config.access_ttl_for(&app.client_id).map_or(DEFAULT_EXPIRES_IN, |d| d.as_secs() as i64);
    let access = shared.registry.lock().expect("registry lock").issue_access(
        &app.client_id,
        now + chrono::TimeDelta::seconds(expires_in),
        random_token(20),
    );
    let id_token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(json!({"sub": app.user_id, "iat": now.timestamp()}).to_string()),
        URL_SAFE_NO_PAD.encode(random_token(16))
    );
    json(
        StatusCode::OK,
        json!({
            "expires_in": expires_in, "token_type": "Bearer", "scope": "api",
            "refresh_token": refresh, "access_token": access, "id_token": id_token
        }),
    )
}

async fn token(State(shared): State<AppState>, headers: HeaderMap, Form(form): Form<Params>) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::OAuth2Token).await {
        return r;
    }
    let app = match authenticate(&shared, &headers, &form) {
        Ok(app) => app,
        Err(r) => return r,
    };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let invalid_grant = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    let now = Utc::now();
    match field("grant_type") {
        "authorization_code" => {
            let taken = shared.registry.lock().expect("registry lock").take_code(
                field("code"),
                &app.client_id,
                shared.config.code_ttl,
            );
            let Ok(grant) = taken else {
                return invalid_grant("The authorization code is invalid, used or expired");
            };
            if grant.redirect_uri.as_deref() != Some(field("redirect_uri")) {
                return invalid_grant("redirect_uri does not match the authorization request");
            }
            if let Some(challenge) = grant.code_challenge {
                if s256(field("code_verifier")) != challenge {
                    return invalid_grant("PKCE verification failed");
                }
            }
            let refresh = {
                let mut registry = shared.registry.lock().expect("registry lock");
                // A new login invalidates the previous tokens.
                registry.revoke_client_tokens(&app.client_id);
                registry.issue_refresh(&app.client_id, now)
            };
            token_response(&shared, app, &refresh, now)
        }
        "refresh_token" => {
            let presented = field("refresh_token");
            let refresh = {
                let mut registry = shared.registry.lock().expect("registry lock");
                let limit = chrono::TimeDelta::from_std(shared.config.refresh_ttl).unwrap_or(chrono::TimeDelta::MAX);
                let login_at = match registry.refresh.get(presented) {
                    Some(g) if !g.revoked && g.client_id == app.client_id && now - g.login_at < limit => g.login_at,
                    _ => return invalid_grant("The refresh token is invalid, revoked or expired"),
                };
                if shared.config.rotate_refresh_tokens {
                    registry.refresh.get_mut(presented).expect("looked up above").revoked = true;
                    registry.issue_refresh(&app.client_id, login_at)
                } else {
                    presented.to_owned()
                }
            };
            token_response(&shared, app, &refresh, now)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

async fn revoke(State(shared): State<AppState>, headers: HeaderMap, Form(form): Form<Params>) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::OAuth2Revoke).await {
        return r;
    }
    if let Err(r) = authenticate(&shared, &headers, &form) {
        return r;
    }
    let token = form.get("token").cloned().unwrap_or_default();
    let mut registry = shared.registry.lock().expect("registry lock");
    registry.revoke_access(&token);
    if let Some(g) = registry.refresh.get_mut(&token) {
        g.revoked = true;
    }
    // RFC 7009 2.2: 200 with nothing to read (real servers send an empty
    // body), and an unknown token is answered with 200 too.
    StatusCode::OK.into_response()
}

async fn profile(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = intercept(&shared, Endpoint::OAuth2Profile).await {
        return r;
    }
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let registry = shared.registry.lock().expect("registry lock");
    let Some(client_id) = token.filter(|t| registry.access_valid(t, None)).and_then(|t| registry.access_client(t))
    else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", "The access token is invalid or expired");
    };
    let user = shared.config.app(KINDS, &client_id).map(|a| a.user_id.clone()).unwrap_or_default();
    json(StatusCode::OK, json!({"sub": user, "name": "Sandbox Trader", "accounts": [{"accountNumber": "SANDBOX-1"}]}))
}

pub(crate) struct OAuth2;

impl crate::broker::Broker for OAuth2 {
    fn routes(&self) -> Router<AppState> {
        routes()
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[Endpoint::OAuth2Token, Endpoint::OAuth2Profile, Endpoint::OAuth2Revoke]
    }

    fn outage(&self, status: StatusCode) -> Response {
        oauth_error(status, "server_error", "The server failed")
    }

    fn invalid_token(&self, endpoint: Endpoint) -> Response {
        match endpoint == Endpoint::OAuth2Token {
            true => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "The refresh token is invalid"),
            false => oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", "The access token is invalid"),
        }
    }

    fn rate_limited(&self) -> Response {
        oauth_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests")
    }

    fn hostile_token(&self) -> Response {
        json(
            StatusCode::OK,
            serde_json::json!({
                "access_token": crate::HOSTILE_TOKEN, "token_type": "Bearer", "expires_in": 1800, "refresh_token": "r-ok"
            }),
        )
    }
}

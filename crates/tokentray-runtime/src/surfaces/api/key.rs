//! The API key: made on first use, kept in the secret store, and required
//! as a bearer token by every endpoint that hands out a token or changes
//! something (and by all but `/metrics` with `[api] require_key = true`).

use super::Problem;
use crate::engine::INSTALLATION;
use crate::{Engine, EngineError};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokentray_adapters::store::SecretItem;
use tokentray_adapters::Secret;

impl Engine {
    /// The key that guards the local API's token endpoint, made on first use
    /// and kept in the secret store.
    pub async fn api_key(&self) -> Result<Secret, EngineError> {
        let key = self
            .api_key_cell()
            .get_or_try_init(|| {
                self.store_call(INSTALLATION, |store, owner| {
                    if let Some(key) = store.get(owner, SecretItem::ApiKey)? {
                        return Ok(key);
                    }
                    let key = Secret::random(32);
                    store.set(owner, SecretItem::ApiKey, &key)?;
                    Ok(key)
                })
            })
            .await?;
        Ok(key.clone())
    }
}

/// In a handler's arguments: the request carried the API key as a bearer
/// token; otherwise it is answered 401 before the handler runs.
pub(super) struct ApiKey;

impl FromRequestParts<Engine> for ApiKey {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, engine: &Engine) -> Result<Self, Response> {
        authorize(engine, &parts.headers).await.map(|()| Self)
    }
}

/// With `[api] require_key = true` (a shared machine), every endpoint but
/// `/metrics` needs the key, reads included.
pub(super) async fn required_everywhere_if_asked(
    State(engine): State<Engine>,
    request: Request,
    next: Next,
) -> Response {
    if engine.config().api.require_key && request.uri().path() != "/metrics" {
        if let Err(refused) = authorize(&engine, request.headers()).await {
            return refused;
        }
    }
    next.run(request).await
}

/// `Ok` when the request carries the API key as its bearer token; else the
/// 401 to answer with.
async fn authorize(engine: &Engine, headers: &HeaderMap) -> Result<(), Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Without a key presented, the secret store is not asked: a request must
    // not be able to make a locked keyring prompt on the user's desktop.
    if !presented.is_empty() {
        let key = engine.api_key().await.map_err(|e| Problem::from(e).into_response())?;
        if key.matches(presented) {
            return Ok(());
        }
    }
    let mut r = Problem::new(
        StatusCode::UNAUTHORIZED,
        "send `Authorization: Bearer <key>`; `tokentray api-key` prints the key",
    )
    .into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("valid header"));
    Err(r)
}

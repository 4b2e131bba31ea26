//! The seam between the sandbox and each broker it emulates: a broker's
//! file serves its routes, names the endpoints a test can break, and says
//! in its own shape what an outage, a dead token, a rate limit and a
//! hostile token answer look like.

use crate::{AppState, Endpoint};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;

pub(crate) trait Broker: Sync {
    fn routes(&self) -> Router<AppState>;

    /// The endpoints a fault can be aimed at.
    fn endpoints(&self) -> &'static [Endpoint];

    /// A failure with this status, in the broker's error shape.
    fn outage(&self, status: StatusCode) -> Response;

    /// The broker refusing the token `endpoint` was called with (or the
    /// refresh token, on its token endpoint).
    fn invalid_token(&self, endpoint: Endpoint) -> Response;

    fn rate_limited(&self) -> Response;

    /// A token request's success carrying [`crate::HOSTILE_TOKEN`] as its access token.
    fn hostile_token(&self) -> Response;
}

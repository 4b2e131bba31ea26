//! The static IPs registered per app (2026's rule: orders only from them),
//! as Upstox (`GET/PUT /v2/user/ip`) and Dhan (`GET /v2/ip/getIP`; its
//! `setIP`/`modifyIP` are not served) keep them: one change in 7 days (a
//! rolling week: Upstox's "calendar week" does not say where it starts),
//! and at Upstox a change ends the app's tokens. Each broker's file serves its own routes over this.
//! `/_sandbox/ip` is an echo service: the address the sandbox says the
//! caller's requests come from (a test sets it; a real echo sees it).

use crate::reply::json;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// How long after a change the next one is refused.
pub const CHANGE_LOCK: Duration = Duration::days(7);

/// The documentation range's address the echo answers unless told otherwise (RFC 5737).
const DEFAULT_EGRESS: &str = "203.0.113.7";

#[derive(Debug, Clone, Default)]
pub struct Registered {
    pub primary: Option<String>,
    pub secondary: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
pub(crate) struct StaticIps {
    by_client: HashMap<String, Registered>,
    egress: Option<String>,
}

impl StaticIps {
    pub fn of(&self, client_id: &str) -> Registered {
        self.by_client.get(client_id).cloned().unwrap_or_default()
    }

    /// Sets them as a test does (no lock).
    pub fn set(&mut self, client_id: &str, registered: Registered) {
        self.by_client.insert(client_id.to_owned(), registered);
    }

    /// Changes them as the broker's API does: refused (`None`) within a week of the last change.
    pub fn change(
        &mut self,
        client_id: &str,
        primary: Option<String>,
        secondary: Option<String>,
        now: DateTime<Utc>,
    ) -> Option<Registered> {
        let entry = self.by_client.entry(client_id.to_owned()).or_default();
        if entry.changed_at.is_some_and(|at| now < at + CHANGE_LOCK) {
            return None;
        }
        if primary.is_some() {
            entry.primary = primary;
        }
        if secondary.is_some() {
            entry.secondary = secondary;
        }
        entry.changed_at = Some(now);
        Some(entry.clone())
    }

    pub fn egress(&self) -> String {
        self.egress.clone().unwrap_or_else(|| DEFAULT_EGRESS.to_owned())
    }

    pub fn set_egress(&mut self, ip: &str) {
        self.egress = Some(ip.to_owned());
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/_sandbox/ip", get(echo)).route("/_sandbox/ip.json", get(echo_json))
}

async fn echo(State(shared): State<AppState>) -> Response {
    let ip = shared.static_ips.lock().expect("static ips lock").egress();
    (StatusCode::OK, [("content-type", "text/plain")], ip).into_response()
}

async fn echo_json(State(shared): State<AppState>) -> Response {
    let ip = shared.static_ips.lock().expect("static ips lock").egress();
    json(StatusCode::OK, serde_json::json!({ "ip": ip }))
}

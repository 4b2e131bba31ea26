//! `/api/token/status`: the fields trading dashboards already read.

use super::{account_param, Problem};
use crate::{AccountStatus, Engine};
use axum::extract::{Query, State};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use tokentray_core::{Instant, Level, State as TokenState};

pub async fn token_status(
    State(engine): State<Engine>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Problem> {
    let now = engine.now();
    match account_param(&query) {
        Some(id) => Ok(Json(dashboard_view(&engine.status(id)?, now))),
        None => Ok(Json(Value::Array(engine.statuses().iter().map(|s| dashboard_view(s, now)).collect()))),
    }
}

/// One account in the dashboards' shape, plus TokenTray's own fields.
pub fn dashboard_view(s: &AccountStatus, now: Instant) -> Value {
    let valid = s.state == TokenState::Valid;
    let remaining = s.expires_at.map(|e| (e - now).num_seconds().max(0)).unwrap_or(0);
    let needs_refresh = !valid || matches!(s.level, Level::Red | Level::Expired);
    let message = match s.state {
        TokenState::Valid if s.retry_at.is_some() => format!("Token valid; {}", s.message),
        TokenState::Valid if s.auto_refresh => {
            format!("Token valid; renewed automatically; log in within {}", s.countdown)
        }
        TokenState::Valid => format!("Token valid; log in within {}", s.countdown),
        TokenState::NoToken | TokenState::NeedsLogin => format!("{}: run `tokentray login {}`", s.message, s.id),
        TokenState::Expired if !s.auto_refresh => format!("{}: run `tokentray login {}`", s.message, s.id),
        _ => s.message.clone(),
    };
    json!({
        "account": s.id,
        "provider": s.provider,
        "valid": valid,
        "time_remaining_seconds": remaining,
        "time_remaining_hours": (remaining as f64 / 3600.0 * 100.0).round() / 100.0,
        "expiry_time": s.expires_at,
        "needs_refresh": needs_refresh,
        "message": message,
        "api_validated": s.last_validated.is_some() && s.last_error.is_none(),
        "last_validated": s.last_validated,
        "state": s.state,
        "level": s.level,
        "act_by": s.act_by,
        "countdown": s.countdown,
        "user_id": s.user_id,
        "retry_at": s.retry_at,
        "sinks": s.sinks,
    })
}

//! What the engine tells its listeners (the tray, the API's event stream,
//! the control channel's subscribers, the history): changes, never tokens.

use serde::Serialize;
use tokentray_core::{Instant, Level, State};

/// What changed, for whoever listens (tray, local API, CLI). Never carries a
/// token. It carries the account's values at the moment it happened, so an
/// event replayed later (SSE `Last-Event-ID`) tells what was true then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineEvent {
    /// Increasing from 1 within a process: the SSE stream's event id.
    pub id: u64,
    pub account: String,
    pub kind: EventKind,
    /// When it happened.
    pub at: Instant,
    /// The account then; `None` for events about no one account.
    pub snapshot: Option<Snapshot>,
}

/// An account's values at one moment, as events carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub state: State,
    pub level: Level,
    pub expires_at: Option<Instant>,
    pub act_by: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A new access token is stored (login, refresh, or another process's).
    TokenChanged,
    /// The state or level changed (a threshold passed, a refresh failed, ...).
    StatusChanged,
    /// The provider rejected a token that should still work: a login is needed
    /// (unless a refresh token brings a new one, which a `token_changed` follows).
    TokenInvalid,
    /// The token was removed by a logout.
    LoggedOut,
    /// The config was reloaded; accounts may have come or gone.
    ConfigReloaded,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenChanged => "token_changed",
            Self::StatusChanged => "status_changed",
            Self::TokenInvalid => "token_invalid",
            Self::LoggedOut => "logged_out",
            Self::ConfigReloaded => "config_reloaded",
        }
    }
}

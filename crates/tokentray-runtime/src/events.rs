use serde::Serialize;

/// What changed, for whoever listens (tray, local API, CLI). Never carries a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineEvent {
    /// Increasing from 1 within a process: the SSE stream's event id.
    pub id: u64,
    pub account: String,
    pub kind: EventKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A new access token is stored (login, refresh, or another process's).
    TokenChanged,
    /// The state or colour changed (a threshold passed, a refresh failed, ...).
    StatusChanged,
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
            Self::LoggedOut => "logged_out",
            Self::ConfigReloaded => "config_reloaded",
        }
    }
}

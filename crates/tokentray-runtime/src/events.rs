use serde::Serialize;

/// What changed, for whoever listens (tray, local API, CLI). Never carries a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineEvent {
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

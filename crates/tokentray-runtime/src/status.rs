use serde::{Deserialize, Serialize};
use tokentray_core::{format_countdown, ErrorClass, Instant, Level, ProviderKind, State, Status};

/// One account as every surface shows it: tray, window, CLI, local API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountStatus {
    pub id: String,
    pub label: String,
    pub provider: ProviderKind,
    pub state: State,
    pub level: Level,
    /// Countdown to `act_by` for people (`2h 14m`), or what to do now.
    pub countdown: String,
    /// The moment the user must log in; `None` when no action will be needed.
    pub act_by: Option<Instant>,
    pub remaining_seconds: Option<i64>,
    pub expires_at: Option<Instant>,
    pub login_at: Option<Instant>,
    pub auto_refresh: bool,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub last_validated: Option<Instant>,
    pub last_error: Option<ErrorClass>,
    pub last_error_message: Option<String>,
    /// How the last write to each of the account's sinks went.
    #[serde(default)]
    pub sinks: Vec<SinkStatus>,
}

/// One sink's last write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkStatus {
    pub path: String,
    pub format: tokentray_engine::sinks::SinkFormat,
    pub ok: bool,
    pub error: Option<String>,
    pub written_at: Option<Instant>,
}

impl AccountStatus {
    pub fn needs_login(&self) -> bool {
        matches!(self.state, State::NoToken | State::NeedsLogin) || (self.state == State::Expired && !self.auto_refresh)
    }
}

pub(crate) fn countdown_text(status: &Status) -> String {
    match (status.state, status.remaining) {
        (State::NoToken, _) => "log in".to_owned(),
        (State::NeedsLogin, _) => "log in now".to_owned(),
        (_, Some(r)) if r.num_seconds() <= 0 => "expired".to_owned(),
        (_, Some(r)) => format_countdown(r),
        (_, None) => "auto-renews".to_owned(),
    }
}

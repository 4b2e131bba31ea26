//! One account as every surface shows it (`AccountStatus`), and its
//! countdown and message in words.

use serde::{Deserialize, Serialize};
pub use tokentray_adapters::sinks::SinkStatus;
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
    /// What is going on, in one sentence for people ("broker unreachable,
    /// retrying in 40s").
    pub message: String,
    /// The moment the user must log in; `None` when no action will be needed.
    pub act_by: Option<Instant>,
    pub remaining_seconds: Option<i64>,
    pub expires_at: Option<Instant>,
    pub login_at: Option<Instant>,
    pub auto_refresh: bool,
    /// When a refresh that failed through an outage is tried again.
    pub retry_at: Option<Instant>,
    /// Since when a new token waits to be saved (the secret store refused it).
    pub pending_save: Option<Instant>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub last_validated: Option<Instant>,
    pub last_error: Option<ErrorClass>,
    pub last_error_message: Option<String>,
    /// How the last write to each of the account's sinks went.
    #[serde(default)]
    pub sinks: Vec<SinkStatus>,
    /// A server's account, followed from this desktop: which server, and
    /// whether it can be reached. `None` for this machine's own accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteMark>,
}

/// Whose an account is when it is a server's, and how it is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteMark {
    /// The `[[remote]]`'s name.
    pub server: String,
    /// The account's name on the server.
    pub account: String,
    /// Since when the server cannot be reached (what is shown is the last
    /// known); `None` while it is followed.
    pub unreachable_since: Option<Instant>,
    /// Whether `tokentray token` here may fetch its token (`copy_token`).
    pub copy_token: bool,
}

impl AccountStatus {
    /// Whether the server it belongs to cannot be reached now (grey, never "log in").
    pub fn unreachable(&self) -> bool {
        self.remote.as_ref().is_some_and(|r| r.unreachable_since.is_some())
    }

    pub fn needs_login(&self) -> bool {
        !self.unreachable()
            && (matches!(self.state, State::NoToken | State::NeedsLogin)
                || (self.state == State::Expired && !self.auto_refresh))
    }
}

/// The broker's trouble in the words the tray and status use.
fn trouble(class: Option<ErrorClass>) -> &'static str {
    match class {
        Some(ErrorClass::RateLimited) => "broker rate limiting",
        Some(ErrorClass::Malformed) => "broker answering garbage",
        Some(ErrorClass::CredentialsWrong) => "credentials rejected",
        _ => "broker unreachable",
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

/// Renewal stopped over the credentials: said even after a later check's
/// error (a timeout) became the last one.
fn stopped_for_credentials(status: &Status) -> bool {
    status.credentials_refused || status.last_error == Some(ErrorClass::CredentialsWrong)
}

/// `credentials` says what is wrong with the account's credentials and how
/// to fix it (`AccountConfig::credentials_trouble`).
pub(crate) fn message(status: &Status, credentials: &str, pending_save: Option<Instant>, now: Instant) -> String {
    if pending_save.is_some() {
        return "new token not saved yet (the secret store refused it); retrying, and serving it meanwhile".to_owned();
    }
    match status.state {
        State::NoToken => "not logged in".to_owned(),
        State::NeedsLogin if status.access_rejected => {
            "login needed: the broker ended this token (a login elsewhere or a logout does that)".to_owned()
        }
        State::NeedsLogin if stopped_for_credentials(status) => format!("renewal stopped: {credentials}"),
        State::NeedsLogin => match status.last_error {
            Some(class) => format!("login needed: {}", class.describe()),
            None => "login needed".to_owned(),
        },
        _ if status.retry_at.is_some() => {
            let wait = status.retry_at.map_or(tokentray_core::Span::zero(), |at| at - now);
            format!("{}, retrying in {}", trouble(status.last_error), format_countdown(wait))
        }
        State::Refreshing => "refreshing".to_owned(),
        State::Expired if status.auto_refresh => "expired; renewing".to_owned(),
        State::Expired => "expired: log in".to_owned(),
        State::Valid if stopped_for_credentials(status) => format!("valid, but renewal stopped: {credentials}"),
        State::Valid if status.auto_refresh => "valid; renewed automatically".to_owned(),
        State::Valid if status.level >= Level::Orange => "valid; log in before it expires".to_owned(),
        State::Valid => "valid".to_owned(),
    }
}

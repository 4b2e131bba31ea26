//! What an account looks like from outside the lifecycle: its state, what
//! the provider last said about its token (saved, so every process agrees),
//! and the snapshot every surface shows.

use crate::{ErrorClass, Instant, Level, Span};
use serde::{Deserialize, Serialize};

/// The account's state as people see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    NoToken,
    Valid,
    Refreshing,
    /// The provider rejected the token, or renewing it failed for good: only a login helps.
    NeedsLogin,
    /// The token's expiry has passed.
    Expired,
}

impl State {
    pub const ALL: [State; 5] = [Self::NoToken, Self::Valid, Self::Refreshing, Self::NeedsLogin, Self::Expired];

    /// The name scripts see: the same as its JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoToken => "no_token",
            Self::Valid => "valid",
            Self::Refreshing => "refreshing",
            Self::NeedsLogin => "needs_login",
            Self::Expired => "expired",
        }
    }
}

/// What the provider last said about the current token: the part of the
/// lifecycle every process must agree on, so it is saved with the token's
/// facts and restored with them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// The provider rejected the access token (revoked, or ended by a login elsewhere).
    #[serde(default)]
    pub access_rejected: bool,
    /// Renewal failed for good: the refresh token or the credentials were rejected.
    #[serde(default)]
    pub refresh_rejected: bool,
    /// What stopped renewal was the credentials (new ones resume it), not the
    /// refresh token: kept apart from `last_error`, which a later check overwrites.
    #[serde(default)]
    pub credentials_refused: bool,
    /// Consecutive failed refreshes being retried through an outage.
    #[serde(default)]
    pub refresh_failures: u32,
    /// When the next retry of a failed refresh is due.
    #[serde(default)]
    pub retry_at: Option<Instant>,
    #[serde(default)]
    pub last_error: Option<ErrorClass>,
}

/// A snapshot for display: everything the tray, the CLI and the API show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    pub level: Level,
    /// The moment the user must act (log in); `None` when no action will be needed.
    pub act_by: Option<Instant>,
    pub remaining: Option<Span>,
    pub expires_at: Option<Instant>,
    pub login_at: Option<Instant>,
    pub last_validated: Option<Instant>,
    pub last_error: Option<ErrorClass>,
    /// Whether TokenTray will renew the token by itself.
    pub auto_refresh: bool,
    /// When a refresh that failed through an outage is tried again.
    pub retry_at: Option<Instant>,
    /// The provider rejected the access token (a login elsewhere, a logout).
    pub access_rejected: bool,
    /// Renewal stopped over the credentials (whatever the last error since).
    #[serde(default)]
    pub credentials_refused: bool,
}

#[cfg(test)]
mod tests {
    use super::State;

    #[test]
    fn state_names_are_their_json_names() {
        for state in State::ALL {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
    }
}

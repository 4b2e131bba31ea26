//! What the lifecycle knows of a token set without its secrets: when it was
//! issued, when it dies, when the login was, and whether and until when it
//! renews without the user.

use crate::Instant;
use serde::{Deserialize, Serialize};

/// Whether and until when a token set can be renewed without the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "until", rename_all = "snake_case")]
pub enum Refreshability {
    /// No refresh token: a new access token needs an interactive login.
    NotRefreshable,
    /// A refresh token that stops working at this instant (Schwab: 7 days after login).
    Until(Instant),
    /// A refresh token with no known limit.
    Unbounded,
    /// No refresh token: the live access token renews itself (Dhan's
    /// `RenewToken`), so renewal works only until it expires.
    WhileValid,
}

/// Everything the lifecycle needs to know about a token set. No secret lives here,
/// so it can sit in the state file and in memory without a keyring prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMeta {
    /// When TokenTray received this access token.
    pub issued_at: Instant,
    /// When the access token stops working.
    pub expires_at: Instant,
    /// When the user last logged in interactively; refresh limits count from here.
    pub login_at: Instant,
    pub refresh: Refreshability,
}

impl TokenMeta {
    pub fn can_refresh_at(&self, now: Instant) -> bool {
        match self.refresh {
            Refreshability::NotRefreshable => false,
            Refreshability::Until(limit) => now < limit,
            Refreshability::Unbounded => true,
            Refreshability::WhileValid => now < self.expires_at,
        }
    }

    pub fn lifetime(&self) -> crate::Span {
        self.expires_at - self.issued_at
    }
}

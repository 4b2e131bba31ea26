//! What a failure means for the token: an outage to retry, a rate limit, an
//! answer that makes no sense, a token or grant the provider refused, or
//! credentials it refused.

use crate::Span;
use serde::{Deserialize, Serialize};

/// What kind of failure a provider call met. The lifecycle decides from this
/// alone whether to retry, back off, or ask the user to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The provider says the token (access or refresh) is invalid, expired or
    /// revoked: only a login brings a working token back.
    TokenInvalid,
    /// The api key / secret / client credentials are wrong: only the user can
    /// fix it, and a login does not (`tokentray secret set` does).
    CredentialsWrong,
    /// Too many requests: retry, but not soon.
    RateLimited,
    /// 5xx, timeout, connection refused: retry with backoff.
    Transient,
    /// The provider answered something we cannot read: retried like an outage,
    /// because a broker in trouble answers garbage as often as it answers 5xx.
    Malformed,
}

impl ErrorClass {
    /// Retrying cannot help: the user must act.
    pub fn is_permanent(self) -> bool {
        matches!(self, Self::TokenInvalid | Self::CredentialsWrong)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::TokenInvalid => "the provider rejected the token",
            Self::CredentialsWrong => "the provider rejected the api key or secret",
            Self::RateLimited => "the provider is rate limiting requests",
            Self::Transient => "the broker is unreachable or failing",
            Self::Malformed => "the provider sent a response TokenTray cannot read",
        }
    }
}

/// A failed provider call as the lifecycle sees it: its class, and how long
/// the provider asked us to wait (`Retry-After`), if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub class: ErrorClass,
    pub retry_after: Option<Span>,
}

impl From<ErrorClass> for Failure {
    fn from(class: ErrorClass) -> Self {
        Self { class, retry_after: None }
    }
}

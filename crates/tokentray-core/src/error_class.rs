use serde::{Deserialize, Serialize};

/// What kind of failure a provider call met. The lifecycle decides from this
/// alone whether to retry, back off, or ask the user to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The provider says the token (access or refresh) is invalid, expired or revoked.
    TokenInvalid,
    /// The api key / secret / client credentials are wrong: only the user can fix it.
    CredentialsWrong,
    /// Too many requests: retry, but not soon.
    RateLimited,
    /// 5xx, timeout, connection refused: retry with backoff.
    Transient,
    /// The provider answered something we cannot read.
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
            Self::Transient => "the provider could not be reached or failed",
            Self::Malformed => "the provider sent a response TokenTray cannot read",
        }
    }
}

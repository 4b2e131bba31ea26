//! Values requests and replies carry: which of an account's secrets,
//! whether a second launch showed a window, what a script is handed.

use serde::{Deserialize, Serialize};
use tokentray_adapters::Secret;

/// Which of an account's secrets `SetSecret` stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountSecret {
    ApiSecret,
    Pin,
}

impl AccountSecret {
    pub fn name(self) -> &'static str {
        match self {
            Self::ApiSecret => "api secret",
            Self::Pin => "PIN",
        }
    }
}

impl From<AccountSecret> for crate::Credential {
    fn from(item: AccountSecret) -> Self {
        match item {
            AccountSecret::ApiSecret => Self::ApiSecret,
            AccountSecret::Pin => Self::Pin,
        }
    }
}

impl From<AccountSecret> for tokentray_adapters::store::SecretItem {
    fn from(item: AccountSecret) -> Self {
        match item {
            AccountSecret::ApiSecret => Self::ApiSecret,
            AccountSecret::Pin => Self::Pin,
        }
    }
}

/// Whether a second launch's "show" brought a window forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shown {
    Window,
    /// The running TokenTray is the headless daemon: it has no window.
    Headless,
}

/// What a script is handed: the access token, and the feed token (Angel
/// One) or token secret (E*TRADE) where the provider has one. Never the
/// refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandedToken {
    pub access_token: Secret,
    /// Angel One's feed token, which its market-data stream needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_token: Option<Secret>,
    /// E*TRADE's token secret, which signs every request with the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<Secret>,
}

impl From<&tokentray_adapters::store::TokenSet> for HandedToken {
    fn from(t: &tokentray_adapters::store::TokenSet) -> Self {
        Self {
            access_token: t.access_token.clone(),
            feed_token: t.feed_token.clone(),
            token_secret: t.token_secret.clone(),
        }
    }
}

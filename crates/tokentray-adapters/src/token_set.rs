//! An account's live credentials: the access token, the refresh token
//! that renews it, Angel One's feed token and E*TRADE's token secret, kept
//! and replaced together.

use crate::Secret;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// Angel One's feed token, which its market-data stream needs; it comes
    /// and goes with the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_token: Option<Secret>,
    /// E*TRADE's OAuth 1.0a token secret: requests are signed with the
    /// access token and it, so the two are one credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<Secret>,
}

impl TokenSet {
    /// An access token alone.
    pub fn access(token: &str) -> Self {
        Self { access_token: Secret::new(token), refresh_token: None, feed_token: None, token_secret: None }
    }

    /// As one secret: a rotated refresh token and its access token are stored together.
    pub fn to_secret(&self) -> Secret {
        Secret::new(serde_json::to_string(self).expect("a token set serializes"))
    }

    pub fn from_secret(s: &Secret) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s.expose())
    }
}

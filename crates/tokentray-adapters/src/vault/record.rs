//! The token record: one KV entry per account holding the token set, what
//! every machine needs to serve it, and the lease of the one machine that
//! may renew it now. One entry, so a check-and-set write of a new token is
//! made against exactly the token (and lease) it was read with.

use crate::config::AccountConfig;
use crate::provider::{Grant, UserInfo};
use crate::store::TokenSet;
use crate::Secret;
use serde::{Deserialize, Serialize};
use tokentray_core::{ErrorClass, Instant, TokenMeta};

/// A renewal that failed on some machine: the others take its result
/// instead of calling the broker again for the same token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedRenewal {
    pub by: String,
    /// The fence of the lease it was tried under.
    pub fence: u64,
    pub class: ErrorClass,
    /// What went wrong, in words (never a secret).
    pub message: String,
    pub at: Instant,
}

/// The right to renew an account's token until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Which daemon: host, process and a per-start nonce.
    pub holder: String,
    /// The record's fencing number when the lease was taken.
    pub fence: u64,
    pub expires_at: Instant,
}

/// `accounts/<id>/access`: what a bot may read (no refresh token, so a
/// bot's Vault credential cannot renew behind TokenTray's back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessCopy {
    pub access_token: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<Secret>,
    pub expires_at: Instant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The token record's version it copies: a late write of an older one is skipped.
    #[serde(default)]
    pub record_version: u64,
}

impl AccessCopy {
    pub fn of(grant: &Grant, record_version: u64) -> Self {
        Self {
            access_token: grant.tokens.access_token.clone(),
            feed_token: grant.tokens.feed_token.clone(),
            token_secret: grant.tokens.token_secret.clone(),
            expires_at: grant.meta.expires_at,
            user_id: grant.user.user_id.clone(),
            record_version,
        }
    }

    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self).expect("an access copy serializes") {
            serde_json::Value::Object(m) => m,
            _ => unreachable!("a struct serializes to an object"),
        }
    }
}

/// `accounts/<id>/tokens`. The token fields are at the top level so that
/// a bot or a Vault Agent template reads `.Data.data.access_token`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<Secret>,
    /// When the access token stops working, for bots (the same as `meta`'s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<TokenMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Raised by every lease taken, so a holder sees its lease was taken over.
    #[serde(default)]
    pub fence: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Which daemon stored the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_by: Option<String>,
    /// The provider and client (api key) the token belongs to: machines
    /// that name different apps with one account id never share tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The last renewal of this token that failed, for the other machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<FailedRenewal>,
    /// The broker's refusals of the credentials in a row, whichever
    /// machine heard them: every machine stops at the provider's limit.
    #[serde(default)]
    pub refusals: u32,
    /// A logout on one machine, which the others follow: the record then
    /// holds no token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged_out_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged_out_at: Option<Instant>,
}

/// Text from a record (another machine's words) as it may go into a log
/// line or an error: no control characters, at most 300 characters.
pub fn said(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

impl TokenRecord {
    pub fn from_map(data: serde_json::Map<String, serde_json::Value>) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::Value::Object(data))
    }

    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self).expect("a token record serializes") {
            serde_json::Value::Object(m) => m,
            _ => unreachable!("a struct serializes to an object"),
        }
    }

    /// The token set, if the record holds one with its expiry.
    pub fn grant(&self) -> Option<Grant> {
        let tokens = TokenSet {
            access_token: self.access_token.clone()?,
            refresh_token: self.refresh_token.clone(),
            feed_token: self.feed_token.clone(),
            token_secret: self.token_secret.clone(),
        };
        let user = UserInfo { user_id: self.user_id.clone(), user_name: self.user_name.clone() };
        Some(Grant { tokens, meta: self.meta?, user })
    }

    /// Puts `grant` in, keeping the fence; the lease ends with the store.
    /// A renewal proves the credentials it used; a login proves the api
    /// secret, but not Fyers' PIN, which only a renewal carries.
    pub fn store(&mut self, grant: &Grant, account: &AccountConfig, by: &str, renewal: bool) {
        self.provider = Some(account.provider.as_str().to_owned());
        self.client_id = Some(account.api_key.clone());
        self.failed = None;
        if renewal || !account.describe().pin {
            self.refusals = 0;
        }
        self.access_token = Some(grant.tokens.access_token.clone());
        self.refresh_token = grant.tokens.refresh_token.clone();
        self.feed_token = grant.tokens.feed_token.clone();
        self.token_secret = grant.tokens.token_secret.clone();
        self.expires_at = Some(grant.meta.expires_at);
        self.meta = Some(grant.meta);
        self.user_id = grant.user.user_id.clone();
        self.user_name = grant.user.user_name.clone();
        self.lease = None;
        self.stored_by = Some(by.to_owned());
        self.logged_out_by = None;
        self.logged_out_at = None;
    }

    /// The record a logout leaves: no token, and who logged out when.
    pub fn logged_out(by: &str, at: Instant) -> Self {
        Self { logged_out_by: Some(by.to_owned()), logged_out_at: Some(at), ..Self::default() }
    }

    /// Whether it says the token was logged out (rather than never stored).
    pub fn is_logout(&self) -> bool {
        self.access_token.is_none() && self.logged_out_at.is_some()
    }

    /// Whether it belongs to `account`'s provider and app (a record from
    /// before they were written belongs to anyone).
    pub fn belongs_to(&self, account: &AccountConfig) -> bool {
        self.provider.as_deref().is_none_or(|p| p == account.provider.as_str())
            && self.client_id.as_deref().is_none_or(|c| c == account.api_key)
    }

    /// The token it holds, by its meta (what the machines compare).
    pub fn token_meta(&self) -> Option<TokenMeta> {
        self.access_token.as_ref().and(self.meta)
    }
}

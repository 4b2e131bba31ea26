//! The token record: one KV entry per account holding the token set, what
//! every machine needs to serve it, and the lease of the one machine that
//! may renew it now. One entry, so a check-and-set write of a new token
//! also proves its writer still holds the lease: a takeover writes a new
//! version, and the old holder's write then fails (the version is the fence).

use crate::provider::{Grant, UserInfo};
use crate::store::TokenSet;
use crate::Secret;
use serde::{Deserialize, Serialize};
use tokentray_core::{Instant, TokenMeta};

/// The right to renew an account's token until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Which daemon: host, process and a per-start nonce.
    pub holder: String,
    /// The record's fencing number when the lease was taken.
    pub fence: u64,
    pub expires_at: Instant,
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
    /// When the access token stops working, for bots (the same as `meta`'s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<TokenMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Raised by every lease taken: a token stored under an older one is refused.
    #[serde(default)]
    pub fence: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Which daemon stored the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_by: Option<String>,
    /// A logout on one machine, which the others follow: the record then
    /// holds no token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged_out_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged_out_at: Option<Instant>,
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
        };
        let user = UserInfo { user_id: self.user_id.clone(), user_name: self.user_name.clone() };
        Some(Grant { tokens, meta: self.meta?, user })
    }

    pub fn tokens(&self) -> Option<TokenSet> {
        Some(TokenSet {
            access_token: self.access_token.clone()?,
            refresh_token: self.refresh_token.clone(),
            feed_token: self.feed_token.clone(),
        })
    }

    /// Puts `grant` in, keeping the fence; the lease ends with the store.
    pub fn store(&mut self, grant: &Grant, by: &str) {
        self.access_token = Some(grant.tokens.access_token.clone());
        self.refresh_token = grant.tokens.refresh_token.clone();
        self.feed_token = grant.tokens.feed_token.clone();
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

    /// When the token it holds was issued.
    pub fn issued_at(&self) -> Option<Instant> {
        self.access_token.as_ref().and(self.meta.map(|m| m.issued_at))
    }

    /// The lease, if someone other than `me` holds it at `now`.
    pub fn held_by_other(&self, me: &str, now: Instant) -> Option<&Lease> {
        self.lease.as_ref().filter(|l| l.holder != me && l.expires_at > now)
    }
}

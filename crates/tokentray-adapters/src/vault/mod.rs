//! HashiCorp Vault / OpenBao as the store several machines share
//! (`storage = "vault"`): the client, the record an account's tokens and
//! refresh lease live in, and the [`VaultStore`] the engine's secret calls use.
//!
//! Layout under `<mount>/<prefix>/` (KV version 2):
//! - `accounts/<id>/tokens`: the token set, its expiry and the refresh lease
//!   ([`TokenRecord`]), written only with check-and-set; after a logout, a
//!   record without a token that says who logged out;
//! - `accounts/<id>/access`: a copy of the access token for bots (no
//!   refresh token), written after each new token;
//! - `accounts/<id>/api_secret`, `accounts/<id>/pin`: `{"value": "..."}`;
//! - `alerts/<name>`: an alert's secret, `{"value": "..."}`.
//!
//! This machine's own keys (the local API key, the journal key, the Vault
//! token or AppRole secret id) stay in its local store.

mod client;
mod error;
mod local;
mod record;
mod sign_in;
mod store;

pub use client::{TokenStanding, VaultClient, Versioned};
pub use error::VaultError;
pub use local::{LocalCredential, LocalCredentials};
pub use record::{said, AccessCopy, FailedRenewal, Lease, TokenRecord};
pub use store::{local, VaultStore};

/// The KV path of an account's token record, under the prefix.
pub fn tokens_path(account: &str) -> String {
    format!("accounts/{account}/tokens")
}

/// The KV path of the copy of an account's access token that bots read.
pub fn access_path(account: &str) -> String {
    format!("accounts/{account}/access")
}

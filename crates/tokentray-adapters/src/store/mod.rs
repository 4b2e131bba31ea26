//! Where secrets and state are kept.
//!
//! Secrets (the api secret; the access and refresh tokens) go through
//! [`SecretStore`]: the OS keyring by default, a 0600 file only when the config
//! opts in. Non-secret facts (expiry, login time, user, last validation) sit in
//! the [`state::StateFile`], so showing a status never needs a keyring prompt.

pub mod journal;
mod keyring_store;
mod open;
mod plaintext;
mod sealed;
pub mod state;

pub use crate::token_set::TokenSet;
pub use keyring_store::KeyringStore;
pub use open::open;
pub use plaintext::PlaintextStore;

use crate::Secret;
use std::path::PathBuf;

/// The keyring service name every entry is filed under.
pub const SERVICE: &str = "tokentray";

/// The secrets kept per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretItem {
    /// Kite's api_secret, Upstox's client_secret, the OAuth2 client secret.
    ApiSecret,
    /// The user's trading PIN, for the providers that renew only with it (Fyers).
    Pin,
    /// The token set, as one entry so that a rotated refresh token and its
    /// access token are replaced together.
    Tokens,
    /// The local API's bearer key (one per installation).
    ApiKey,
    /// The key that encrypts the grant journal (one per installation).
    JournalKey,
    /// An alert's secret (filed under the alert's name): a Telegram bot
    /// token, an ntfy access token, a webhook's signing key.
    AlertSecret,
    /// The Vault token this machine signs in with (`storage = "vault"`).
    VaultToken,
    /// The AppRole secret id this machine signs in with.
    VaultSecretId,
}

impl SecretItem {
    pub fn key(self, account: &str) -> String {
        match self {
            Self::ApiSecret => format!("{account}/api_secret"),
            Self::Pin => format!("{account}/pin"),
            Self::Tokens => format!("{account}/tokens"),
            Self::ApiKey => format!("{account}/api_key"),
            Self::JournalKey => format!("{account}/journal_key"),
            Self::AlertSecret => format!("alert.{account}/secret"),
            Self::VaultToken => format!("{account}/vault_token"),
            Self::VaultSecretId => format!("{account}/vault_secret_id"),
        }
    }
}

/// Where a store keeps its secrets, for status output (plaintext must be said).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageKind {
    Keyring,
    Plaintext(PathBuf),
    /// Vault or OpenBao at `address`, under `location` (`mount/prefix`).
    Vault {
        address: String,
        location: String,
    },
}

impl std::fmt::Display for StorageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keyring => f.write_str("OS keyring"),
            Self::Plaintext(p) => write!(f, "PLAINTEXT file {} (opted in; not encrypted)", p.display()),
            Self::Vault { address, location } => write!(f, "Vault at {address}, {location} (shared)"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "no OS keyring is reachable ({0}). On a desktop, make sure a Secret Service \
         (GNOME Keyring, KWallet, KeePassXC) is running and unlocked. On a headless server, \
         start one (`gnome-keyring-daemon --unlock` in a D-Bus session), or opt in to a \
         plaintext file store with `storage = \"plaintext\"` at the top of the config (with \
         `storage = \"vault\"`: `local_secrets = \"plaintext\"` in [vault])"
    )]
    Unreachable(String),
    #[error("the keyring refused the request: {0}")]
    Refused(String),
    #[error("the stored entry cannot be read: {0}; store it again (`tokentray secret set`, or log in)")]
    Corrupt(String),
    #[error("secrets file {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    /// Vault's own words, which say what to fix (a policy, a token) or that it only needs time.
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
}

impl StoreError {
    /// Whether trying again later may work without anybody changing
    /// anything: the keyring's troubles are taken as passing (a desktop
    /// unlocks it at login), Vault's say which they are.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Vault(e) => e.is_transient(),
            Self::Unreachable(_) | Self::Refused(_) | Self::File { .. } => true,
            Self::Corrupt(_) => false,
        }
    }
}

/// A place for secrets. Implementations are blocking: keyring calls go over
/// D-Bus or to the OS, so async callers run them on a blocking thread.
pub trait SecretStore: Send + Sync {
    fn get(&self, account: &str, item: SecretItem) -> Result<Option<Secret>, StoreError>;
    fn set(&self, account: &str, item: SecretItem, value: &Secret) -> Result<(), StoreError>;
    /// Deleting what is not there is not an error.
    fn delete(&self, account: &str, item: SecretItem) -> Result<(), StoreError>;
    fn kind(&self) -> StorageKind;

    /// The shared store's client, when secrets live in Vault: the engine
    /// then takes a lease before renewing and follows other machines' tokens.
    fn shared(&self) -> Option<crate::vault::VaultClient> {
        None
    }

    fn tokens(&self, account: &str) -> Result<Option<TokenSet>, StoreError> {
        let read = |s: Secret| TokenSet::from_secret(&s).map_err(|e| StoreError::Corrupt(e.to_string()));
        self.get(account, SecretItem::Tokens)?.map(read).transpose()
    }

    fn set_tokens(&self, account: &str, tokens: &TokenSet) -> Result<(), StoreError> {
        self.set(account, SecretItem::Tokens, &tokens.to_secret())
    }
}

//! The OS keyring (Secret Service, Keychain, Credential Manager) through the
//! `keyring` crate: one entry per account and item, under the `tokentray` service.

use super::{SecretItem, SecretStore, StorageKind, StoreError};
use crate::Secret;
use keyring::{Entry, Error};

/// Secrets in the OS keyring: Secret Service on Linux, Keychain on macOS,
/// Credential Manager on Windows.
pub struct KeyringStore {
    service: String,
}

impl KeyringStore {
    /// `service` names the entries; tests use their own to stay apart from a user's.
    pub fn new(service: &str) -> Self {
        Self { service: service.to_owned() }
    }

    fn entry(&self, account: &str, item: SecretItem) -> Result<Entry, StoreError> {
        Entry::new(&self.service, &item.key(account)).map_err(classify)
    }
}

fn classify(e: Error) -> StoreError {
    match e {
        Error::PlatformFailure(inner) | Error::NoStorageAccess(inner) => StoreError::Unreachable(inner.to_string()),
        Error::BadEncoding(_) => StoreError::Corrupt("the entry is not valid UTF-8".to_owned()),
        other => StoreError::Refused(other.to_string()),
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, account: &str, item: SecretItem) -> Result<Option<Secret>, StoreError> {
        match self.entry(account, item)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    fn set(&self, account: &str, item: SecretItem, value: &Secret) -> Result<(), StoreError> {
        self.entry(account, item)?.set_password(value.expose()).map_err(classify)
    }

    fn delete(&self, account: &str, item: SecretItem) -> Result<(), StoreError> {
        match self.entry(account, item)?.delete_credential() {
            Ok(()) | Err(Error::NoEntry) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }

    fn kind(&self) -> StorageKind {
        StorageKind::Keyring
    }
}

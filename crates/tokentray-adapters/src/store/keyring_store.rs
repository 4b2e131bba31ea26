//! The OS keyring (Secret Service, Keychain, Credential Manager) through the
//! `keyring` crate: one entry per account and item, under the `tokentray`
//! service. A value longer than the keyring holds is sealed in the data
//! directory, the entry keeping its key (`sealed.rs`).

use super::sealed::{self, SealedDir};
use super::{SecretItem, SecretStore, StorageKind, StoreError};
use crate::Secret;
use keyring::{Entry, Error};
use std::path::PathBuf;

/// Secrets in the OS keyring: Secret Service on Linux, Keychain on macOS,
/// Credential Manager on Windows.
pub struct KeyringStore {
    service: String,
    /// Where values too long for the keyring are sealed; without it they are refused.
    sealed: Option<SealedDir>,
    /// The longest value the keyring takes, in UTF-16 bytes.
    limit: Option<usize>,
}

/// Windows' Credential Manager: 2,560 bytes per credential
/// (`CRED_MAX_CREDENTIAL_BLOB_SIZE`), written as UTF-16 by keyring.
#[cfg(windows)]
const OS_LIMIT: Option<usize> = Some(2560);
/// The Secret Service and the Keychain take what a token set can be.
#[cfg(not(windows))]
const OS_LIMIT: Option<usize> = None;

impl KeyringStore {
    /// `service` names the entries; tests use their own to stay apart from a user's.
    pub fn new(service: &str) -> Self {
        Self { service: service.to_owned(), sealed: None, limit: OS_LIMIT }
    }

    /// Values too long for the keyring are sealed in `dir` (in the data directory).
    pub fn sealing_long_values_in(mut self, dir: PathBuf) -> Self {
        self.sealed = Some(SealedDir::new(dir));
        self
    }

    /// The longest value (in UTF-16 bytes) to store as is; tests set
    /// Windows' on other systems to go the sealed way with a real keyring.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    fn sealed_dir(&self, key: &str) -> Result<&SealedDir, StoreError> {
        self.sealed.as_ref().ok_or_else(|| {
            StoreError::Refused(format!("{key} is longer than the keyring holds, and no data directory was given"))
        })
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
        let key = item.key(account);
        match self.entry(account, item)?.get_password() {
            Ok(v) if sealed::is_pointer(&v) => {
                let value = self.sealed_dir(&key)?.open(&self.service, &key, &v);
                drop(Secret::new(v));
                value.map(Some)
            }
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    fn set(&self, account: &str, item: SecretItem, value: &Secret) -> Result<(), StoreError> {
        let key = item.key(account);
        let entry = self.entry(account, item)?;
        let stored = if sealed::must_seal(value.expose(), self.limit) {
            None
        } else {
            match entry.set_password(value.expose()) {
                Ok(()) => Some(()),
                // Another keyring's own limit: the old entry stands; seal instead.
                Err(Error::TooLong(..)) => None,
                Err(e) => return Err(classify(e)),
            }
        };
        let pointer = match stored {
            Some(()) => None,
            None => {
                let dir = self.sealed_dir(&key)?;
                let pointer = dir.seal(&self.service, &key, value)?.into_secret();
                entry.set_password(pointer.expose()).map_err(classify)?;
                Some(pointer)
            }
        };
        // Only now that the entry names its value: the files it no longer names.
        if let Some(dir) = &self.sealed {
            dir.sweep(&self.service, &key, pointer.as_ref().map(Secret::expose));
        }
        Ok(())
    }

    fn delete(&self, account: &str, item: SecretItem) -> Result<(), StoreError> {
        match self.entry(account, item)?.delete_credential() {
            Ok(()) | Err(Error::NoEntry) => {}
            Err(e) => return Err(classify(e)),
        }
        if let Some(dir) = &self.sealed {
            dir.sweep(&self.service, &item.key(account), None);
        }
        Ok(())
    }

    fn kind(&self) -> StorageKind {
        StorageKind::Keyring
    }
}

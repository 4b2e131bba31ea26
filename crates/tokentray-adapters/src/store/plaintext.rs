//! The opted-in plaintext store (`storage = "plaintext"`): one 0600 JSON
//! file in the data directory, read-modified-written under a file lock, for
//! headless servers with no Secret Service.

use super::{SecretItem, SecretStore, StorageKind, StoreError};
use crate::Secret;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Mutex;

/// Secrets in a JSON file of mode 0600, for headless servers without a keyring.
/// Only used when the config says `storage = "plaintext"`, and every status says so.
///
/// Every read-modify-write holds an exclusive lock on a file beside it, so
/// two processes (the daemon, a CLI call) writing different accounts never
/// lose each other's writes; the file itself is replaced atomically.
pub struct PlaintextStore {
    path: PathBuf,
    // Serialises this process's threads (a file lock is per open file, not per thread).
    lock: Mutex<()>,
}

/// Holds the store's cross-process lock until dropped.
struct Locked<'a> {
    _thread: std::sync::MutexGuard<'a, ()>,
    _file: File,
}

impl PlaintextStore {
    pub fn new(path: PathBuf) -> Self {
        Self { path, lock: Mutex::new(()) }
    }

    fn lock(&self) -> Result<Locked<'_>, StoreError> {
        let thread = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let lock_path = self.path.with_extension("lock");
        let fail = |source| StoreError::File { path: lock_path.clone(), source };
        if let Some(dir) = lock_path.parent() {
            crate::atomic::create_private_dir(dir).map_err(fail)?;
        }
        let file = crate::atomic::open_private(&lock_path).map_err(fail)?;
        file.lock().map_err(fail)?;
        Ok(Locked { _thread: thread, _file: file })
    }

    fn read(&self) -> Result<BTreeMap<String, Secret>, StoreError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("{}: {e}", self.path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(source) => Err(StoreError::File { path: self.path.clone(), source }),
        }
    }

    fn write(&self, map: &BTreeMap<String, Secret>) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(map).expect("a map of strings serializes");
        crate::atomic::write_private(&self.path, &bytes)
            .map_err(|source| StoreError::File { path: self.path.clone(), source })
    }
}

impl SecretStore for PlaintextStore {
    fn get(&self, account: &str, item: SecretItem) -> Result<Option<Secret>, StoreError> {
        let _guard = self.lock()?;
        Ok(self.read()?.remove(&item.key(account)))
    }

    fn set(&self, account: &str, item: SecretItem, value: &Secret) -> Result<(), StoreError> {
        let _guard = self.lock()?;
        let mut map = self.read()?;
        map.insert(item.key(account), value.clone());
        self.write(&map)
    }

    fn delete(&self, account: &str, item: SecretItem) -> Result<(), StoreError> {
        let _guard = self.lock()?;
        let mut map = self.read()?;
        if map.remove(&item.key(account)).is_some() {
            self.write(&map)?;
        }
        Ok(())
    }

    fn kind(&self) -> StorageKind {
        StorageKind::Plaintext(self.path.clone())
    }
}

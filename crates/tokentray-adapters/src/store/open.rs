//! The store the config asks for: the OS keyring, the opted-in plaintext
//! file, or Vault (with this machine's own keys in one of the first two).

use super::{KeyringStore, PlaintextStore, SecretStore, StoreError, SERVICE};
use crate::config::vault::LocalSecrets;
use crate::config::{Config, StorageChoice};
use std::path::Path;
use std::sync::Arc;

/// The store the config asks for. Only Vault's can fail to open (its CA file).
pub fn open(config: &Config, data_dir: &Path) -> Result<Box<dyn SecretStore>, StoreError> {
    let local = |choice: StorageChoice| -> Box<dyn SecretStore> {
        match choice {
            StorageChoice::Plaintext => Box::new(PlaintextStore::new(data_dir.join("secrets.json"))),
            StorageChoice::Keyring | StorageChoice::Vault => {
                Box::new(KeyringStore::new(SERVICE).sealing_long_values_in(data_dir.join("sealed")))
            }
        }
    };
    match (config.storage, &config.vault) {
        (StorageChoice::Vault, Some(vault)) => {
            let own = match vault.local_secrets {
                LocalSecrets::Keyring => StorageChoice::Keyring,
                LocalSecrets::Plaintext => StorageChoice::Plaintext,
            };
            let own: Arc<dyn SecretStore> = Arc::from(local(own));
            let timeout = config.http_timeout.to_std().unwrap_or(std::time::Duration::from_secs(15));
            let client =
                crate::vault::VaultClient::new(vault.clone(), crate::vault::local(own.clone()), timeout, true)?;
            Ok(Box::new(crate::vault::VaultStore::new(client, own, timeout)?))
        }
        (choice, _) => Ok(local(choice)),
    }
}

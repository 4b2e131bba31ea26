//! A secret store that refuses new tokens on demand, and a notifier that
//! keeps what the user would see: the parts of the "nothing is lost" tests.

use super::store;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokentray_adapters::config::Config;
use tokentray_adapters::store::{PlaintextStore, SecretItem, SecretStore, StorageKind, StoreError};
use tokentray_adapters::Secret;
use tokentray_runtime::{Engine, EngineOptions, Notifier, SystemClock};

/// The real plaintext store, made to refuse token writes while `refuse` is
/// set: a keyring that is locked, full or gone at the worst moment.
struct RefusingStore {
    inner: PlaintextStore,
    refuse: Arc<AtomicBool>,
}

impl SecretStore for RefusingStore {
    fn get(&self, account: &str, item: SecretItem) -> Result<Option<Secret>, StoreError> {
        self.inner.get(account, item)
    }
    fn set(&self, account: &str, item: SecretItem, value: &Secret) -> Result<(), StoreError> {
        if item == SecretItem::Tokens && self.refuse.load(Ordering::SeqCst) {
            return Err(StoreError::Refused("the collection is locked".into()));
        }
        self.inner.set(account, item, value)
    }
    fn delete(&self, account: &str, item: SecretItem) -> Result<(), StoreError> {
        self.inner.delete(account, item)
    }
    fn kind(&self) -> StorageKind {
        self.inner.kind()
    }
}

/// The notices the user would see, as their titles.
#[derive(Default)]
pub struct Seen(pub Mutex<Vec<String>>);

impl Notifier for Seen {
    fn notify(&self, account: &tokentray_runtime::AccountName, notice: &tokentray_core::Notice) {
        self.0.lock().unwrap().push(notice.summary(&account.id));
    }
}

/// An engine for `config` over the plaintext store in `dir` that refuses new
/// tokens while the returned flag is set.
pub fn refusing_engine(config: &Config, dir: &Path) -> (Engine, Arc<AtomicBool>, Arc<Seen>) {
    let refuse = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Seen::default());
    let engine = Engine::new(
        config.clone(),
        EngineOptions {
            data_dir: dir.join("data"),
            store: Arc::new(RefusingStore { inner: store(dir), refuse: refuse.clone() }),
            clock: Arc::new(SystemClock),
            notifier: seen.clone(),
        },
    )
    .unwrap();
    (engine, refuse, seen)
}

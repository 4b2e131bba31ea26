//! [`SecretStore`] over Vault, for the engine's secret calls (api secrets,
//! PINs, alert secrets, reading the token set). The store is blocking; each
//! call runs on a thread of its own with a small runtime, over a client
//! that keeps no connection, so it is safe from any caller.
//!
//! New tokens are not written through `set`: the engine stores a grant
//! with its expiry and under its lease (`tokentray-runtime`'s `tokens/install.rs`
//! and `shared/lease.rs`).

use super::local::{LocalCredential, LocalCredentials};
use super::{tokens_path, TokenRecord, VaultClient, VaultError};
use crate::store::{SecretItem, SecretStore, StorageKind, StoreError, TokenSet};
use crate::Secret;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub struct VaultStore {
    /// For the engine's async calls, on its runtime.
    client: VaultClient,
    /// For this store's blocking calls.
    detached: VaultClient,
    local: Arc<dyn SecretStore>,
}

/// How many times a `set` of the token set re-reads after another machine wrote.
const CAS_TRIES: usize = 5;

impl VaultStore {
    pub fn new(client: VaultClient, local: Arc<dyn SecretStore>, timeout: Duration) -> Result<Self, VaultError> {
        Ok(Self { detached: client.unpooled(timeout)?, client, local })
    }

    /// Runs `f` on a thread with a runtime of its own, whatever the caller's context.
    fn run<R: Send>(
        &self,
        f: impl FnOnce(VaultClient) -> std::pin::Pin<Box<dyn std::future::Future<Output = R> + Send>> + Send,
    ) -> Result<R, StoreError> {
        let client = self.detached.clone();
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                    runtime.map(|rt| rt.block_on(f(client)))
                })
                .join()
        })
        .map_err(|_| StoreError::Vault(VaultError::Stopped("it panicked".to_owned())))?
        .map_err(|e| StoreError::Vault(VaultError::Stopped(format!("no runtime for it: {e}"))))
    }
}

/// The KV path of a secret item, or `None` for this machine's own keys.
fn path_of(account: &str, item: SecretItem) -> Option<Result<String, StoreError>> {
    let safe = !account.is_empty()
        && account.len() <= 64
        && account != "."
        && account != ".."
        && account.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    let path = match item {
        SecretItem::ApiSecret => format!("accounts/{account}/api_secret"),
        SecretItem::Pin => format!("accounts/{account}/pin"),
        SecretItem::Tokens => tokens_path(account),
        SecretItem::AlertSecret => format!("alerts/{account}"),
        SecretItem::ApiKey | SecretItem::JournalKey | SecretItem::VaultToken | SecretItem::VaultSecretId => {
            return None
        }
    };
    Some(match safe {
        true => Ok(path),
        false => Err(StoreError::Refused(format!("`{account}` is not a name TokenTray files in Vault"))),
    })
}

impl SecretStore for VaultStore {
    fn get(&self, account: &str, item: SecretItem) -> Result<Option<Secret>, StoreError> {
        let Some(path) = path_of(account, item) else { return self.local.get(account, item) };
        let path = path?;
        let read = self.run(|c| Box::pin(async move { c.read(&path).await }))??;
        let Some(read) = read else { return Ok(None) };
        if item == SecretItem::Tokens {
            // The token fields alone: a record whose other fields another
            // machine (or a hand) got wrong still serves its token.
            let text = |key: &str| read.data.get(key).and_then(Value::as_str).map(Secret::new);
            let Some(access_token) = text("access_token") else { return Ok(None) };
            let tokens = TokenSet {
                access_token,
                refresh_token: text("refresh_token"),
                feed_token: text("feed_token"),
                token_secret: text("token_secret"),
            };
            return Ok(Some(tokens.to_secret()));
        }
        match read.data.get("value") {
            Some(Value::String(v)) => Ok(Some(Secret::new(v.clone()))),
            _ => Err(StoreError::Corrupt("the entry has no \"value\" string".to_owned())),
        }
    }

    fn set(&self, account: &str, item: SecretItem, value: &Secret) -> Result<(), StoreError> {
        let Some(path) = path_of(account, item) else { return self.local.set(account, item, value) };
        let path = path?;
        if item != SecretItem::Tokens {
            let data = json!({ "value": value.expose() });
            let Value::Object(data) = data else { unreachable!() };
            return self.run(|c| Box::pin(async move { c.replace(&path, &data).await.map(drop) }))?.map_err(Into::into);
        }
        // The token set alone (the engine stores grants with their expiry):
        // the rest of the record is kept, and another machine's write is
        // never overwritten blindly.
        let tokens = TokenSet::from_secret(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.run(|c| {
            Box::pin(async move {
                for _ in 0..CAS_TRIES {
                    let current = c.read(&path).await?;
                    let (mut record, cas) = match current {
                        Some(v) => (TokenRecord::from_map(v.data).unwrap_or_default(), v.version),
                        None => (TokenRecord::default(), 0),
                    };
                    record.access_token = Some(tokens.access_token.clone());
                    record.refresh_token = tokens.refresh_token.clone();
                    record.feed_token = tokens.feed_token.clone();
                    record.token_secret = tokens.token_secret.clone();
                    match c.write(&path, &record.to_map(), Some(cas)).await {
                        Err(VaultError::CasMismatch { .. }) => continue,
                        other => return other.map(drop),
                    }
                }
                Err(VaultError::CasMismatch { path })
            })
        })?
        .map_err(Into::into)
    }

    fn delete(&self, account: &str, item: SecretItem) -> Result<(), StoreError> {
        let Some(path) = path_of(account, item) else { return self.local.delete(account, item) };
        let path = path?;
        self.run(|c| Box::pin(async move { c.destroy(&path).await }))?.map_err(Into::into)
    }

    fn kind(&self) -> StorageKind {
        StorageKind::Vault { address: self.client.config().address.to_string(), location: self.client.location() }
    }

    fn shared(&self) -> Option<VaultClient> {
        Some(self.client.clone())
    }
}

/// This machine's own store as the client's door to its Vault credential.
struct Local(Arc<dyn SecretStore>);

/// The installation-wide owner this machine's store files the Vault credentials under.
const INSTALLATION: &str = "tokentray";

impl LocalCredentials for Local {
    fn get(&self, credential: LocalCredential) -> Result<Option<Secret>, String> {
        let item = match credential {
            LocalCredential::Token => SecretItem::VaultToken,
            LocalCredential::SecretId => SecretItem::VaultSecretId,
        };
        self.0.get(INSTALLATION, item).map_err(|e| e.to_string())
    }
}

/// `store` (this machine's own) as the door a [`VaultClient`] signs in through.
pub fn local(store: Arc<dyn SecretStore>) -> Arc<dyn LocalCredentials> {
    Arc::new(Local(store))
}

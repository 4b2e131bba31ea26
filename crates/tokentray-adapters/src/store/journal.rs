//! The grant journal: a new token set is made durable here first, before the
//! secret store, the state file or any sink hears of it.
//!
//! A provider that rotates refresh tokens kills the old one the moment it
//! answers. A process killed between that answer and the keyring write
//! (11-27 ms over D-Bus) would lose the only working refresh token. The
//! journal closes that window to one small fsync'd file write: each record is
//! encrypted (AES-256-GCM, the account id as associated data) with a key kept
//! in the secret store, written atomically, and replayed at start-up by the
//! runtime. A record is removed once the secret store and the state file hold
//! its grant.

use crate::store::TokenSet;
use crate::Secret;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tokentray_core::TokenMeta;

const NONCE_LEN: usize = 12;
const EXTENSION: &str = "grant";

/// One grant waiting to be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub tokens: TokenSet,
    pub meta: TokenMeta,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    /// The token a renewal replaced (`None` for a login): with a shared
    /// store, a replayed renewal is stored only over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<TokenMeta>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("grant journal {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the grant journal's key in the secret store is not a 256-bit key; delete it (it is made again)")]
    BadKey,
    #[error("grant journal record {0} cannot be decrypted or read (another key, or damaged)")]
    Unreadable(PathBuf),
}

pub struct GrantJournal {
    dir: PathBuf,
    cipher: Aes256Gcm,
}

impl GrantJournal {
    /// A new random key, for the secret store.
    pub fn new_key() -> Secret {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source works");
        Secret::new(STANDARD.encode(key))
    }

    /// The journal in `dir` (`<data dir>/journal`), with the key from the secret store.
    pub fn open(dir: PathBuf, key: &Secret) -> Result<Self, JournalError> {
        let bytes = STANDARD.decode(key.expose()).map_err(|_| JournalError::BadKey)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| JournalError::BadKey)?;
        Ok(Self { dir, cipher })
    }

    fn path(&self, account: &str) -> PathBuf {
        self.dir.join(format!("{account}.{EXTENSION}"))
    }

    /// Makes `entry` durable: on disk, fsync'd, before this returns.
    pub fn record(&self, account: &str, entry: &JournalEntry) -> Result<(), JournalError> {
        let plain = serde_json::to_vec(entry).expect("a journal entry serializes");
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random source works");
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &plain, aad: account.as_bytes() })
            .expect("AES-GCM encrypts any message this small");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        let path = self.path(account);
        crate::atomic::write_private(&path, &bytes).map_err(|source| JournalError::Io { path, source })
    }

    /// The record for `account`, if there is one.
    pub fn read(&self, account: &str) -> Result<Option<JournalEntry>, JournalError> {
        let path = self.path(account);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(JournalError::Io { path, source }),
        };
        if bytes.len() <= NONCE_LEN {
            return Err(JournalError::Unreadable(path));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: account.as_bytes() })
            .map_err(|_| JournalError::Unreadable(path.clone()))?;
        serde_json::from_slice(&plain).map(Some).map_err(|_| JournalError::Unreadable(path))
    }

    /// Removes `account`'s record once its grant is stored. Removing what is not there is fine.
    pub fn clear(&self, account: &str) -> Result<(), JournalError> {
        let path = self.path(account);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(JournalError::Io { path, source }),
        }
    }

    /// The accounts that have a record.
    pub fn accounts(&self) -> Result<Vec<String>, JournalError> {
        list(&self.dir)
    }
}

fn list(dir: &Path) -> Result<Vec<String>, JournalError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(JournalError::Io { path: dir.to_owned(), source }),
    };
    let mut accounts: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(&format!(".{EXTENSION}")).map(str::to_owned))
        .filter(|a| !a.starts_with('.'))
        .collect();
    accounts.sort();
    Ok(accounts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokentray_core::{Instant, Refreshability};

    fn entry() -> JournalEntry {
        let t = Instant::from_timestamp(1_800_000_000, 0).unwrap();
        JournalEntry {
            tokens: TokenSet {
                access_token: Secret::new("access-1"),
                refresh_token: Some(Secret::new("refresh-2")),
                feed_token: None,
                token_secret: Some(Secret::new("secret-3")),
            },
            meta: TokenMeta { issued_at: t, expires_at: t, login_at: t, refresh: Refreshability::Unbounded },
            user_id: Some("AB1234".into()),
            user_name: None,
            replaces: None,
        }
    }

    #[test]
    fn a_record_round_trips_encrypted_and_is_bound_to_its_account() {
        let dir = std::env::temp_dir().join(format!("tokentray-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let key = GrantJournal::new_key();
        let journal = GrantJournal::open(dir.clone(), &key).unwrap();
        journal.record("kite", &entry()).unwrap();
        assert_eq!(journal.read("kite").unwrap(), Some(entry()));
        assert_eq!(journal.accounts().unwrap(), ["kite"]);
        let raw = std::fs::read(dir.join("kite.grant")).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("refresh-2"), "the record is not plaintext");
        // Moved to another account's name, it does not decrypt.
        std::fs::copy(dir.join("kite.grant"), dir.join("other.grant")).unwrap();
        assert!(matches!(journal.read("other"), Err(JournalError::Unreadable(_))));
        // Another key does not read it either.
        let stranger = GrantJournal::open(dir.clone(), &GrantJournal::new_key()).unwrap();
        assert!(matches!(stranger.read("kite"), Err(JournalError::Unreadable(_))));
        journal.clear("kite").unwrap();
        journal.clear("kite").unwrap();
        assert_eq!(journal.read("kite").unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}

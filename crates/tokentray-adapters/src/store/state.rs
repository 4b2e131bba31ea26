//! The state file: what TokenTray knows about each account's token that is not
//! secret, so that `status` answers without touching the keyring.

use crate::sinks::SinkStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokentray_core::{Instant, Standing, TokenMeta};

/// One account as every process must see it. Written by whichever process
/// learns something (a refresh, a rejection, a failing sink) and read by the
/// others, so `status`, `token` and the API agree everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// The facts of the token that is in the secret store: never of another one.
    pub token: Option<TokenMeta>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub last_validated: Option<Instant>,
    /// What the provider last said about this token (rejected, retrying, ...).
    #[serde(default)]
    pub standing: Standing,
    /// The last error in words, for people.
    pub last_error_message: Option<String>,
    /// Since when a newer token than `token` waits to be saved (the secret
    /// store refused it); the process holding it retries and serves it.
    #[serde(default)]
    pub pending_save: Option<Instant>,
    /// How the last write to each of the account's sinks went.
    #[serde(default)]
    pub sinks: Vec<SinkStatus>,
    /// How many times in a row the broker refused the account's
    /// credentials in a renewal (api secret, Fyers' PIN), and in a login's
    /// exchange (api secret); at the provider's limit TokenTray stops
    /// trying them there, before the broker locks the account.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub renewals_refused: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub logins_refused: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub accounts: BTreeMap<String, AccountState>,
    /// Notifications snoozed until then (the tray's "Snooze 1 h",
    /// `tokentray snooze`): every process, and a restart, knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<Instant>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("state file {path} is not valid ({message}); move it aside and log in again")]
    Corrupt { path: PathBuf, message: String },
}

pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn in_dir(data_dir: &Path) -> Self {
        Self { path: data_dir.join("state.json") }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn load(&self) -> Result<State, StateError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| StateError::Corrupt { path: self.path.clone(), message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(source) => Err(StateError::Io { path: self.path.clone(), source }),
        }
    }

    pub fn save(&self, state: &State) -> Result<(), StateError> {
        let bytes = serde_json::to_vec_pretty(state).expect("state serializes");
        crate::atomic::write_private(&self.path, &bytes)
            .map_err(|source| StateError::Io { path: self.path.clone(), source })
    }
}

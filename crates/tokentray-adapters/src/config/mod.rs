//! The config file: one TOML file listing the accounts. No secret ever lives
//! here (they are in the keyring), so it can be shared, versioned and edited.
//!
//! Reading is all-or-nothing: any error names the file, the line and the field,
//! and no half-read config is ever returned. Each section has its resolver
//! in a file of its own; this one reads the file and puts them together.

mod account;
pub mod alerts;
pub mod calendar_file;
pub mod edit;
mod error;
pub mod market;
pub mod ready;
pub mod remote;
mod surfaces;
mod thresholds;
pub mod vault;

pub use account::{AccountConfig, ClientAuth, OAuth2Options, OUT_OF_BAND};
pub use error::ConfigError;
pub use surfaces::{ApiConfig, TrayConfig, TrayIcons, DEFAULT_API_PORT};

use error::{key_at, line_column, Wrong};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokentray_core::calendar::Calendar;
use tokentray_core::{QuietHours, Span, Thresholds};
use toml::Spanned;

/// Where secrets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageChoice {
    /// The OS keyring (Secret Service, Keychain, Credential Manager).
    #[default]
    Keyring,
    /// A 0600 file in the data directory: only for headless servers with no keyring.
    Plaintext,
    /// HashiCorp Vault or OpenBao (KV version 2), shared by several
    /// machines: `[vault]` says where and how.
    Vault,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    thresholds: Option<Spanned<thresholds::RawThresholds>>,
    #[serde(default)]
    storage: StorageChoice,
    #[serde(default, deserialize_with = "crate::duration::deserialize_positive_opt")]
    http_timeout: Option<Span>,
    #[serde(default)]
    api: ApiConfig,
    #[serde(default)]
    tray: TrayConfig,
    #[serde(default, rename = "alert")]
    alerts: Vec<Spanned<alerts::RawAlert>>,
    market: Option<Spanned<market::RawMarket>>,
    notifications: Option<Spanned<market::RawNotifications>>,
    vault: Option<Spanned<vault::RawVault>>,
    ready: Option<Spanned<ready::RawReady>>,
    #[serde(default, rename = "remote")]
    remotes: Vec<Spanned<remote::RawRemote>>,
    #[serde(default)]
    ssh_access: remote::SshAccess,
    #[serde(default, rename = "account")]
    accounts: Vec<account::RawAccount>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub path: PathBuf,
    pub storage: StorageChoice,
    pub http_timeout: Span,
    pub api: ApiConfig,
    pub tray: TrayConfig,
    pub accounts: Vec<AccountConfig>,
    /// Where warnings go besides the desktop (`[[alert]]`).
    pub alerts: Vec<alerts::AlertConfig>,
    /// Trading days and sessions: the shipped calendar and the user's file.
    pub calendar: Calendar,
    /// When notices wait (`[notifications] quiet_hours`).
    pub quiet_hours: Option<QuietHours>,
    /// The shared store, with `storage = "vault"`.
    pub vault: Option<vault::VaultConfig>,
    /// Servers whose TokenTray this desktop follows and logs in over SSH (`[[remote]]`).
    pub remotes: Vec<remote::RemoteConfig>,
    /// On a server: what desktops following it over SSH may take (`[ssh_access]`).
    pub ssh_access: remote::SshAccess,
    /// How `tokentray ready` finds this machine's egress IP (`[ready]`).
    pub ready: ready::ReadyConfig,
}

const DEFAULT_HTTP_TIMEOUT: Span = Span::seconds(15);

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Parses `text` as if read from `path` (which only names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let wrong = |w: Wrong| w.in_file(text, path);
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim();
            let mut message = match e.span().and_then(|s| key_at(text, s.start)) {
                Some(key) if !message.contains(&format!("`{key}`")) => format!("{key}: {message}"),
                _ => message.to_owned(),
            };
            // A Windows path in "double quotes" reads its backslashes as escapes.
            if message.contains("escape") || message.contains("unicode value digits") {
                message += r#"; for a Windows path use 'single quotes' or forward slashes ('C:\Users\me\bot\.env' or "C:/Users/me/bot/.env")"#;
            }
            wrong(Wrong { span: e.span(), message })
        })?;
        let defaults = match &raw.thresholds {
            Some(t) => thresholds::resolve(Thresholds::default(), t.get_ref())
                .map_err(|m| wrong(Wrong::at(t.span(), format!("thresholds: {m}"))))?,
            None => Thresholds::default(),
        };
        let http_timeout = raw.http_timeout.unwrap_or(DEFAULT_HTTP_TIMEOUT);
        let calendar = market::calendar(raw.market.as_ref().map(Spanned::get_ref), path)?;
        let quiet_hours = market::quiet_hours(raw.notifications.as_ref().map(Spanned::get_ref)).map_err(|m| {
            wrong(Wrong {
                span: raw.notifications.as_ref().map(Spanned::span),
                message: format!("[notifications] {m}"),
            })
        })?;
        let vault = vault::section(raw.storage == StorageChoice::Vault, raw.vault, http_timeout).map_err(wrong)?;
        let accounts = accounts(raw.accounts, defaults, &calendar, text, http_timeout).map_err(wrong)?;
        let ids: std::collections::HashSet<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
        let spans: Vec<_> = raw.alerts.iter().map(|a| a.span()).collect();
        let alerts = alerts::resolve(raw.alerts.into_iter().map(Spanned::into_inner).collect(), &ids)
            .map_err(|(i, message)| wrong(Wrong { span: spans.get(i).cloned(), message }))?;
        let ready_span = raw.ready.as_ref().map(Spanned::span);
        let ready = ready::resolve(raw.ready.map(Spanned::into_inner))
            .map_err(|message| wrong(Wrong { span: ready_span, message }))?;
        let spans: Vec<_> = raw.remotes.iter().map(|r| r.span()).collect();
        let remotes = remote::resolve(raw.remotes.into_iter().map(Spanned::into_inner).collect())
            .map_err(|(i, message)| wrong(Wrong { span: spans.get(i).cloned(), message }))?;
        Ok(Config {
            path: path.to_owned(),
            storage: raw.storage,
            http_timeout,
            api: raw.api,
            tray: raw.tray,
            accounts,
            alerts,
            calendar,
            quiet_hours,
            vault,
            remotes,
            ssh_access: raw.ssh_access,
            ready,
        })
    }

    pub fn account(&self, id: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.id == id)
    }

    /// The server an `ACCOUNT@SERVER` name belongs to, with the account's name there.
    pub fn remote_account<'a>(&self, id: &'a str) -> Option<(&remote::RemoteConfig, &'a str)> {
        let (account, server) = remote::split_remote_id(id)?;
        self.remotes.iter().find(|r| r.name == server).map(|r| (r, account))
    }
}

/// Every `[[account]]`, each id once.
fn accounts(
    raw: Vec<account::RawAccount>,
    defaults: Thresholds,
    calendar: &Calendar,
    text: &str,
    http_timeout: Span,
) -> Result<Vec<AccountConfig>, Wrong> {
    let mut lines: HashMap<String, usize> = HashMap::new();
    let mut accounts = Vec::with_capacity(raw.len());
    for a in raw {
        let (id, start) = (a.id.get_ref().clone(), a.id.span().start);
        let earlier = lines.get(&id).copied();
        accounts.push(account::resolve(a, defaults, calendar, earlier, http_timeout)?);
        lines.insert(id, line_column(text, start).0);
    }
    Ok(accounts)
}

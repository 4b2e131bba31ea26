//! The config file: one TOML file listing the accounts. No secret ever lives
//! here (they are in the keyring), so it can be shared, versioned and edited.
//!
//! Reading is all-or-nothing: any error names the file, the line and the field,
//! and no half-read config is ever returned.

use crate::duration;
use crate::market_config::AccountMarket;
use crate::redirect_uri::RedirectUri;
use crate::sinks::{default_fields, expand_home, Field, SinkConfig, SinkFormat};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use tokentray_core::calendar::Calendar;
use tokentray_core::expiry::{FYERS_CUTOFF, KITE_CUTOFF, NSE_HOURS, SCHWAB_REFRESH_LIMIT, UPSTOX_CUTOFF};
use tokentray_core::{Policy, ProviderKind, QuietHours, RetryPolicy, Span, Thresholds};
use toml::Spanned;
use url::Url;

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

/// How an OAuth2 client proves who it is at the token endpoint (RFC 6749 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// `Authorization: Basic base64(client_id:client_secret)`.
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Options {
    pub authorize_url: Url,
    pub token_url: Url,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default = "yes")]
    pub pkce: bool,
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// A URL that answers 2xx to `Authorization: Bearer` while the token works.
    pub profile_url: Option<Url>,
    /// RFC 7009 revocation endpoint, called on logout.
    pub revocation_url: Option<Url>,
    /// How long a refresh token works after the login, if the provider limits it.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub refresh_limit: Option<Span>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    orange: Option<Span>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    red: Option<Span>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    id: Spanned<String>,
    provider: ProviderKind,
    #[serde(alias = "client_id")]
    api_key: String,
    redirect_uri: RedirectUri,
    user_id: Option<String>,
    label: Option<String>,
    api_base: Option<Url>,
    login_base: Option<Url>,
    thresholds: Option<Spanned<RawThresholds>>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    refresh_lead: Option<Span>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    validate_every: Option<Span>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    token_lifetime: Option<Span>,
    oauth2: Option<Spanned<OAuth2Options>>,
    /// The exchange whose trading days it follows (`"none"`: no market).
    exchange: Option<String>,
    /// The pre-market reminder's time in the exchange's zone (`"off"`: none).
    remind_at: Option<String>,
    #[serde(default, rename = "sink")]
    sinks: Vec<Spanned<RawSink>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSink {
    format: SinkFormat,
    path: PathBuf,
    fields: Option<BTreeMap<String, Field>>,
}

/// The local HTTP API (`[api]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_api_port")]
    pub port: u16,
    /// Every endpoint but `/metrics` needs the API key (a shared machine,
    /// where other users must not read even the status).
    #[serde(default)]
    pub require_key: bool,
}

/// The tray app's look (`[tray]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrayConfig {
    #[serde(default)]
    pub icons: TrayIcons,
}

/// The tray icon's colours. The shapes say the level in every style.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrayIcons {
    /// Green, orange and red.
    #[default]
    Color,
    /// One light grey, for dark panels that want symbolic icons.
    Light,
    /// One dark grey, for light panels that want symbolic icons.
    Dark,
}

/// The API's port unless the config says otherwise: 127.0.0.1:8421.
pub const DEFAULT_API_PORT: u16 = 8421;

fn default_api_port() -> u16 {
    DEFAULT_API_PORT
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self { enabled: true, port: DEFAULT_API_PORT, require_key: false }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    thresholds: Option<Spanned<RawThresholds>>,
    #[serde(default)]
    storage: StorageChoice,
    #[serde(default, deserialize_with = "duration::deserialize_positive_opt")]
    http_timeout: Option<Span>,
    #[serde(default)]
    api: ApiConfig,
    #[serde(default)]
    tray: TrayConfig,
    #[serde(default, rename = "alert")]
    alerts: Vec<Spanned<crate::alert_config::RawAlert>>,
    market: Option<Spanned<crate::market_config::RawMarket>>,
    notifications: Option<Spanned<crate::market_config::RawNotifications>>,
    vault: Option<Spanned<crate::vault_config::RawVault>>,
    #[serde(default, rename = "account")]
    accounts: Vec<RawAccount>,
}

/// One account, with every default resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    pub id: String,
    /// The name people see in the tray and in notifications.
    pub label: String,
    pub provider: ProviderKind,
    /// Kite's api_key, or the OAuth2 client id.
    pub api_key: String,
    /// As written: providers compare it byte for byte.
    pub redirect_uri: RedirectUri,
    /// The broker's id of the user (Dhan's client id, which its login needs
    /// and every login is checked against).
    pub user_id: Option<String>,
    pub api_base: Url,
    pub login_base: Url,
    pub thresholds: Thresholds,
    pub refresh_lead: Option<Span>,
    pub validate_every: Span,
    /// Overrides the provider's expiry rule: for the sandbox, demos, and
    /// providers with non-standard cutoffs.
    pub token_lifetime: Option<Span>,
    pub oauth2: Option<OAuth2Options>,
    /// Files every new token is written to.
    pub sinks: Vec<SinkConfig>,
    /// The exchange it follows and when it is reminded before the open.
    pub market: AccountMarket,
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
    pub alerts: Vec<crate::alert_config::AlertConfig>,
    /// Trading days and sessions: the shipped calendar and the user's file.
    pub calendar: Calendar,
    /// When notices wait (`[notifications] quiet_hours`).
    pub quiet_hours: Option<QuietHours>,
    /// The shared store, with `storage = "vault"`.
    pub vault: Option<crate::vault_config::VaultConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid { path: PathBuf, line: usize, column: usize, message: String },
}

impl ConfigError {
    pub fn is_missing_file(&self) -> bool {
        matches!(self, Self::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

const DEFAULT_VALIDATE_EVERY: Span = Span::hours(1);
const DEFAULT_HTTP_TIMEOUT: Span = Span::seconds(15);

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Parses `text` as if read from `path` (which only names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let invalid = |span: Option<Range<usize>>, message: String| {
            let (line, column) = span.map_or((1, 1), |s| line_column(text, s.start));
            ConfigError::Invalid { path: path.to_owned(), line, column, message }
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim();
            let message = match e.span().and_then(|s| key_at(text, s.start)) {
                Some(key) if !message.contains(&format!("`{key}`")) => format!("{key}: {message}"),
                _ => message.to_owned(),
            };
            invalid(e.span(), message)
        })?;

        let defaults = match &raw.thresholds {
            Some(t) => thresholds(Thresholds::default(), t.get_ref())
                .map_err(|m| invalid(Some(t.span()), format!("thresholds: {m}")))?,
            None => Thresholds::default(),
        };
        let http_timeout = raw.http_timeout.unwrap_or(DEFAULT_HTTP_TIMEOUT);
        let calendar = crate::market_config::calendar(raw.market.as_ref().map(Spanned::get_ref), path)?;
        let quiet_hours = crate::market_config::quiet_hours(raw.notifications.as_ref().map(Spanned::get_ref))
            .map_err(|m| invalid(raw.notifications.as_ref().map(Spanned::span), format!("[notifications] {m}")))?;
        let vault = match (raw.storage, raw.vault) {
            (StorageChoice::Vault, Some(v)) => {
                let span = v.span();
                Some(
                    crate::vault_config::resolve(v.into_inner(), http_timeout)
                        .map_err(|m| invalid(Some(span), format!("[vault] {m}")))?,
                )
            }
            (StorageChoice::Vault, None) => {
                return Err(invalid(
                    None,
                    "storage = \"vault\" needs a [vault] table with at least address = \"https://...\"".to_owned(),
                ))
            }
            (_, Some(v)) => {
                return Err(invalid(
                    Some(v.span()),
                    "[vault] is used only with storage = \"vault\" at the top of the file: add that, or remove \
                     the table"
                        .to_owned(),
                ))
            }
            (_, None) => None,
        };

        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        let mut accounts = Vec::with_capacity(raw.accounts.len());
        for a in raw.accounts {
            let id_span = a.id.span();
            let id = a.id.get_ref().clone();
            let at_id = |m: String| invalid(Some(id_span.clone()), format!("account `{id}`: {m}"));
            if let Some(m) = id_problem(&id) {
                return Err(invalid(Some(id_span.clone()), format!("id: {m}")));
            }
            if let Some(first) = seen.get(&id) {
                let (line, _) = line_column(text, first.start);
                return Err(at_id(format!("duplicate id; it is already used on line {line}")));
            }
            seen.insert(id.clone(), id_span.clone());
            if a.api_key.trim().is_empty() {
                return Err(at_id("api_key is empty".to_owned()));
            }
            let user_id = a.user_id.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
            // It goes into request headers (Dhan's `dhanClientId`) and bodies.
            if user_id.as_ref().is_some_and(|u| u.len() > 64 || !u.bytes().all(|b| b.is_ascii_graphic())) {
                return Err(at_id(
                    "user_id: use the id as the broker writes it: letters and digits, no spaces".to_owned(),
                ));
            }
            // Neither broker's redirect reliably carries `state`: the client id
            // is what ties a login to the account (and Dhan's login asks for it).
            let needs_user_id = match a.provider {
                ProviderKind::Dhan => Some("your Dhan client id"),
                ProviderKind::AngelOne => Some("your Angel One client code"),
                _ => None,
            };
            if let (Some(what), None) = (needs_user_id, &user_id) {
                return Err(at_id(format!("provider `{}` needs user_id = \"<{what}>\"", a.provider)));
            }
            if !matches!(a.redirect_uri.scheme(), "http" | "https") {
                return Err(at_id("redirect_uri must be an http:// or https:// URL".to_owned()));
            }
            let thresholds = match &a.thresholds {
                Some(t) => thresholds(defaults, t.get_ref())
                    .map_err(|m| invalid(Some(t.span()), format!("account `{id}`: thresholds: {m}")))?,
                None => defaults,
            };
            let oauth2 = match (a.provider, a.oauth2) {
                (ProviderKind::OAuth2, Some(o)) => Some(o.into_inner()),
                (ProviderKind::OAuth2, None) => {
                    return Err(at_id(
                        "provider `oauth2` needs an [account.oauth2] table with authorize_url and token_url".to_owned(),
                    ))
                }
                (other, Some(o)) => {
                    return Err(invalid(
                        Some(o.span()),
                        format!("account `{id}`: [account.oauth2] is only for provider = \"oauth2\", not `{other}`"),
                    ))
                }
                (_, None) => None,
            };
            for (name, d) in [
                ("refresh_lead", a.refresh_lead),
                ("validate_every", a.validate_every),
                ("token_lifetime", a.token_lifetime),
            ] {
                if d.is_some_and(|d| d <= Span::zero()) {
                    return Err(at_id(format!("{name} must be longer than zero")));
                }
            }
            let mut sinks = Vec::with_capacity(a.sinks.len());
            for raw in &a.sinks {
                let sink = raw.get_ref();
                if sink.path.as_os_str().is_empty() {
                    return Err(invalid(Some(raw.span()), format!("account `{id}`: sink path is empty")));
                }
                sinks.push(SinkConfig {
                    format: sink.format,
                    path: expand_home(&sink.path),
                    fields: sink.fields.clone().unwrap_or_default(),
                });
            }
            let market = crate::market_config::account_market(
                a.provider,
                a.exchange.as_deref(),
                a.remind_at.as_deref(),
                &calendar,
            )
            .map_err(at_id)?;
            let (api_default, login_default) = default_bases(a.provider);
            let api_base = a.api_base.or(api_default).unwrap_or_else(|| {
                oauth2.as_ref().map(|o| o.token_url.clone()).expect("oauth2 accounts have a token_url")
            });
            let login_base = a.login_base.unwrap_or_else(|| login_default.unwrap_or_else(|| api_base.clone()));
            let mut account = AccountConfig {
                label: a.label.unwrap_or_else(|| id.clone()),
                id,
                provider: a.provider,
                api_key: a.api_key.trim().to_owned(),
                redirect_uri: a.redirect_uri,
                user_id,
                api_base,
                login_base,
                thresholds,
                refresh_lead: a.refresh_lead,
                validate_every: a.validate_every.unwrap_or(DEFAULT_VALIDATE_EVERY),
                token_lifetime: a.token_lifetime,
                oauth2,
                sinks,
                market,
            };
            let defaults: Vec<_> = account.sinks.iter().map(|s| default_fields(s.format, &account)).collect();
            for (sink, fields) in account.sinks.iter_mut().zip(defaults) {
                if sink.fields.is_empty() {
                    sink.fields = fields;
                }
            }
            accounts.push(account);
        }
        let ids: std::collections::HashSet<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
        let spans: Vec<Range<usize>> = raw.alerts.iter().map(|a| a.span()).collect();
        let alerts = crate::alert_config::resolve(raw.alerts.into_iter().map(Spanned::into_inner).collect(), &ids)
            .map_err(|(i, m)| invalid(spans.get(i).cloned(), m))?;
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
        })
    }

    pub fn account(&self, id: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.id == id)
    }
}

impl AccountConfig {
    /// The lifecycle settings this account's config implies.
    pub fn policy(&self) -> Policy {
        let can_validate = match self.provider {
            ProviderKind::OAuth2 => self.oauth2.as_ref().is_some_and(|o| o.profile_url.is_some()),
            _ => true,
        };
        let cutoff = match self.provider {
            ProviderKind::Kite if self.token_lifetime.is_none() => Some(KITE_CUTOFF),
            ProviderKind::Upstox if self.token_lifetime.is_none() => Some(UPSTOX_CUTOFF),
            ProviderKind::Fyers if self.token_lifetime.is_none() => Some(FYERS_CUTOFF),
            _ => None,
        };
        Policy {
            thresholds: self.thresholds,
            refresh_lead: self.refresh_lead,
            validate_every: can_validate.then_some(self.validate_every),
            retry: RetryPolicy::default(),
            cutoff,
            // Dhan's renewal ends the token in use: not while bots trade.
            market_hours: (self.provider == ProviderKind::Dhan).then_some(NSE_HOURS),
        }
    }

    /// Whether the provider needs the app's secret: a public OAuth2 client
    /// (PKCE) authenticates with its id alone, and Angel One's publisher
    /// login with its api key.
    pub fn needs_secret(&self) -> bool {
        match self.provider {
            ProviderKind::AngelOne => false,
            _ => !self.oauth2.as_ref().is_some_and(|o| o.pkce),
        }
    }

    /// How many refusals of the same credentials in a row TokenTray tries
    /// before it stops, short of any broker lock-out. No broker documents a
    /// lock-out for its API's credentials (Zerodha's five wrong passwords or
    /// 2FA entries concern its web login, support.zerodha.com; Kite's
    /// forum warns that an app hammering the API may be blocked); Fyers'
    /// PIN, which its renewal carries, is a trading PIN whose wrong-entry
    /// limit Fyers does not publish, so it is tried once.
    pub fn credential_tries(&self) -> u32 {
        match self.provider {
            ProviderKind::Fyers => 1,
            _ => 3,
        }
    }

    /// What to do when the provider refuses the app's credentials.
    pub fn credentials_fix(&self) -> String {
        match self.provider {
            ProviderKind::Fyers => format!(
                "check api_key in the config, then store the right api secret and PIN with `tokentray secret set {0}` \
                 and `tokentray secret set {0} --pin`",
                self.id
            ),
            _ => format!(
                "check api_key in the config, then store the right api secret with `tokentray secret set {}`",
                self.id
            ),
        }
    }

    /// What the status says when renewal stopped over this account's
    /// credentials, and how to fix them.
    pub fn credentials_trouble(&self) -> String {
        match self.provider {
            ProviderKind::Fyers => format!(
                "the api secret or the PIN is missing or wrong (`tokentray secret set {0}`, `tokentray secret set {0} --pin`)",
                self.id
            ),
            _ => format!("the provider rejected the api secret (`tokentray secret set {}`)", self.id),
        }
    }

    /// How long a refresh token works after the login, where the provider says.
    pub fn refresh_limit(&self) -> Option<Span> {
        match self.provider {
            ProviderKind::Schwab => Some(SCHWAB_REFRESH_LIMIT),
            ProviderKind::OAuth2 => self.oauth2.as_ref().and_then(|o| o.refresh_limit),
            _ => None,
        }
    }
}

fn default_bases(provider: ProviderKind) -> (Option<Url>, Option<Url>) {
    let url = |s: &str| Some(Url::parse(s).expect("built-in URLs parse"));
    match provider {
        ProviderKind::Kite => (url("https://api.kite.trade"), url("https://kite.zerodha.com")),
        ProviderKind::Upstox => (url("https://api.upstox.com"), None),
        ProviderKind::Schwab => (url("https://api.schwabapi.com"), None),
        ProviderKind::OAuth2 => (None, None),
        ProviderKind::Fyers => (url("https://api-t1.fyers.in"), None),
        ProviderKind::Dhan => (url("https://api.dhan.co"), url("https://auth.dhan.co")),
        ProviderKind::AngelOne => (url("https://apiconnect.angelone.in"), url("https://smartapi.angelone.in")),
    }
}

fn thresholds(base: Thresholds, raw: &RawThresholds) -> Result<Thresholds, String> {
    let t = Thresholds { orange: raw.orange.unwrap_or(base.orange), red: raw.red.unwrap_or(base.red) };
    if t.red <= Span::zero() {
        return Err("red must be longer than zero".to_owned());
    }
    if t.orange <= t.red {
        return Err("orange must be longer than red (orange warns first)".to_owned());
    }
    Ok(t)
}

/// Ids name keyring entries, files and URLs: keep them to a safe alphabet.
fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("is empty".to_owned());
    }
    if id.len() > 64 {
        return Some(format!("`{id}` is longer than 64 characters"));
    }
    // It names files and store paths: never the directory itself or its parent.
    if id == "." || id == ".." {
        return Some(format!("`{id}` is not a name; use letters or digits too"));
    }
    id.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .map(|c| format!("`{id}` contains `{c}`; use letters, digits, `-`, `_` and `.`"))
}

/// The key of a `key = value` line that `offset` falls in, to name the field
/// when the parser's message names only the value.
fn key_at(text: &str, offset: usize) -> Option<&str> {
    let start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('[') && !key.contains('"')).then_some(key)
}

pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
    (line, column)
}

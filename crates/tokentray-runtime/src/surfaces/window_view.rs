//! What the window shows and edits. The window runs in a process of its own
//! (a web view costs memory the tray should not keep), so this is served to
//! it over the control socket: the accounts with the settings its form
//! edits, and the config edits it asks for, made here, where the engine
//! applies them at once.

use crate::{AccountStatus, Engine, EngineError, Remedy};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tokentray_adapters::config::edit::{self as config_edit, AccountDraft, EditError};
use tokentray_adapters::config::Config;
use tokentray_adapters::Secret;

/// One account for the window: its status and the settings the form edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    #[serde(flatten)]
    pub status: AccountStatus,
    pub api_key: String,
    /// The client id the config names (Dhan, Angel One), apart from the
    /// broker's own word in `status.user_id`.
    pub config_user_id: Option<String>,
    pub redirect_uri: String,
    pub orange_seconds: i64,
    pub red_seconds: i64,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub profile_url: Option<String>,
    pub scopes: Vec<String>,
    /// The login comes back as an address the user pastes (no loopback
    /// server can receive its redirect).
    pub login_by_paste: bool,
    /// A login waits for that address now.
    pub awaiting_paste: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub config_path: String,
    pub storage: String,
    pub storage_plaintext: bool,
    pub demo: bool,
    /// Each alert's last result.
    #[serde(default)]
    pub alerts: Vec<crate::notices::alerts::AlertOutcome>,
    /// Until when notices that can wait are held (a snooze, quiet hours).
    #[serde(default)]
    pub silenced_until: Option<tokentray_core::Instant>,
    /// The providers the account form offers, from their descriptions.
    #[serde(default)]
    pub providers: Vec<ProviderChoice>,
}

/// A provider as the window's account form offers it: what the form asks
/// for follows from its description, never from a list of the window's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderChoice {
    pub id: String,
    pub name: String,
    /// What its client id is called, when the form must ask for it.
    pub user_id: Option<String>,
    /// Renewals need the user's PIN, which the form may take.
    pub pin: bool,
    /// Its endpoints are the account's own (authorize, token and profile URLs).
    pub endpoints: bool,
    /// The form asks for the app's key (not for a pasted analytics token).
    pub api_key: bool,
    /// The form asks for the app's secret.
    pub secret: bool,
    /// The redirect address must be given (not where a code is typed).
    pub redirect: bool,
    /// Its tokens cannot place orders: the form says so.
    pub read_only: bool,
    /// Its login shows a code (or a token) to type: the paste field says so.
    pub typed: bool,
}

impl ProviderChoice {
    /// Every provider, in the order of their descriptions.
    pub fn all() -> Vec<Self> {
        tokentray_core::provider::PROVIDERS
            .iter()
            .map(|d| Self {
                id: d.id.to_owned(),
                name: d.long_name.to_owned(),
                user_id: d.user_id.map(str::to_owned),
                pin: d.pin,
                endpoints: d.endpoints_in_config,
                api_key: d.needs_app_key(),
                secret: d.secret != tokentray_core::provider::SecretNeed::Never,
                redirect: d.needs_redirect(),
                read_only: d.read_only,
                typed: d.login.typed_field().is_some(),
            })
            .collect()
    }
}

/// Why an edit from the window was not made. Nothing is written then.
#[derive(Debug, thiserror::Error)]
pub enum EditFailure {
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    File(String),
}

impl EditFailure {
    pub fn remedy(&self) -> Remedy {
        match self {
            Self::Engine(e) => e.remedy(),
            Self::Edit(_) | Self::File(_) => Remedy::Other,
        }
    }
}

impl Engine {
    pub fn account_views(&self) -> Vec<AccountView> {
        let config = self.config();
        self.statuses()
            .into_iter()
            .filter_map(|status| {
                let a = config.account(&status.id)?;
                let o = a.oauth2.as_ref();
                Some(AccountView {
                    api_key: a.api_key.clone(),
                    config_user_id: a.user_id.clone(),
                    redirect_uri: a.redirect_uri.to_string(),
                    orange_seconds: a.thresholds.orange.num_seconds(),
                    red_seconds: a.thresholds.red.num_seconds(),
                    authorize_url: o.map(|o| o.authorize_url.to_string()),
                    token_url: o.map(|o| o.token_url.to_string()),
                    profile_url: o.and_then(|o| o.profile_url.as_ref().map(|u| u.to_string())),
                    scopes: o.map(|o| o.scopes.clone()).unwrap_or_default(),
                    login_by_paste: !crate::login::served_on_loopback(a),
                    awaiting_paste: self.with_slot(&status.id, |s| s.paste.is_some()).unwrap_or(false),
                    status,
                })
            })
            .collect()
    }

    /// `demo`: whether this engine runs on the demo broker.
    pub fn settings(&self, demo: bool) -> Settings {
        let storage = self.storage();
        Settings {
            config_path: self.config().path.display().to_string(),
            storage_plaintext: matches!(storage, tokentray_adapters::store::StorageKind::Plaintext(_)),
            storage: storage.to_string(),
            demo,
            alerts: self.alert_outcomes(),
            silenced_until: self.silenced_until(),
            providers: ProviderChoice::all(),
        }
    }

    /// Adds or edits an account. The config file is rewritten atomically,
    /// keeping its comments; the api secret and PIN (if given) go straight
    /// to the secret store.
    pub async fn save_account(
        &self,
        draft: &AccountDraft,
        replacing: Option<&str>,
        api_secret: Option<Secret>,
        pin: Option<Secret>,
    ) -> Result<(), EditFailure> {
        let config = self.edit_config(|text, path| config_edit::upsert_account(text, path, draft, replacing))?;
        // The account first: new credentials are tried again by the account that has them.
        self.apply_config(config);
        let given =
            |s: Option<Secret>| s.filter(|s| !s.expose().trim().is_empty()).map(|s| Secret::new(s.expose().trim()));
        match (given(api_secret), given(pin)) {
            (Some(secret), Some(pin)) => self.set_credentials(&draft.id, secret, pin).await?,
            (Some(secret), None) => self.set_api_secret(&draft.id, secret).await?,
            (None, Some(pin)) => self.set_pin(&draft.id, pin).await?,
            (None, None) => {}
        }
        Ok(())
    }

    pub fn delete_account(&self, id: &str) -> Result<(), EditFailure> {
        let config = self.edit_config(|text, path| config_edit::remove_account(text, path, id))?;
        self.apply_config(config);
        Ok(())
    }

    pub fn save_thresholds(&self, orange: &str, red: &str) -> Result<(), EditFailure> {
        let config = self.edit_config(|text, path| config_edit::set_thresholds(text, path, orange, red))?;
        self.apply_config(config);
        Ok(())
    }

    /// Reads the config file, applies `edit`, and writes the result only if it loads.
    fn edit_config(&self, edit: impl FnOnce(&str, &Path) -> Result<String, EditError>) -> Result<Config, EditFailure> {
        let path = self.config().path.clone();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(EditFailure::File(format!("cannot read {}: {e}", path.display()))),
        };
        let new_text = edit(&text, &path)?;
        // `edit` has read the result back already; this is the config to apply.
        let config = Config::parse(&new_text, &path).map_err(|e| EditFailure::File(e.to_string()))?;
        tokentray_adapters::atomic::write(&path, new_text.as_bytes(), 0o600)
            .map_err(|e| EditFailure::File(format!("cannot write {}: {e}", path.display())))?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::ProviderChoice;

    /// The window's tests (`ui/logic.test.mjs`) read the providers from this
    /// file: it must be what the engine serves. A provider added to the
    /// descriptions fails here until the file says it too.
    #[test]
    fn the_windows_provider_vectors_are_what_the_engine_serves() {
        let file: serde_json::Value =
            serde_json::from_str(include_str!("../../../../tests/vectors/providers.json")).expect("JSON");
        assert_eq!(serde_json::to_value(ProviderChoice::all()).unwrap(), file);
    }
}

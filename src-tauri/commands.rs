//! The commands the window calls. Secrets go in (the api secret, to the
//! keyring) but never come back out to the page.

use crate::command_error::CommandError;
use crate::state::AppState;
use serde::Serialize;
use tauri::State;
use tokentray_adapters::config::Config;
use tokentray_adapters::config_edit::{self, AccountDraft, EditError};
use tokentray_adapters::Secret;
use tokentray_runtime::login::LoginOptions;
use tokentray_runtime::AccountStatus;

/// One account for the window: its status and the settings the form edits.
#[derive(Debug, Clone, Serialize)]
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
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub config_path: String,
    pub storage: String,
    pub storage_plaintext: bool,
    pub demo: bool,
}

#[tauri::command]
pub fn accounts(state: State<'_, AppState>) -> Vec<AccountView> {
    let config = state.engine.config();
    state
        .engine
        .statuses()
        .into_iter()
        .filter_map(|status| {
            let a = config.account(&status.id)?.clone();
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
                status,
            })
        })
        .collect()
}

#[tauri::command]
pub fn settings(state: State<'_, AppState>) -> Settings {
    let storage = state.engine.storage();
    Settings {
        config_path: state.config_path.display().to_string(),
        storage_plaintext: matches!(storage, tokentray_adapters::store::StorageKind::Plaintext(_)),
        storage: storage.to_string(),
        demo: state.demo.is_some(),
    }
}

/// Opens the browser at the provider; returns when the token is stored.
#[tauri::command]
pub async fn login(state: State<'_, AppState>, account: String) -> Result<AccountStatus, CommandError> {
    let options = LoginOptions::default();
    Ok(state.engine.login(&account, options).await?.status)
}

#[tauri::command]
pub async fn refresh(state: State<'_, AppState>, account: String) -> Result<AccountStatus, CommandError> {
    Ok(state.engine.refresh(&account).await?)
}

#[tauri::command]
pub async fn logout(state: State<'_, AppState>, account: String) -> Result<(), CommandError> {
    Ok(state.engine.logout(&account).await?)
}

/// Adds or edits an account. The config file is rewritten atomically, keeping
/// its comments; the api secret (if given) goes straight to the keyring.
#[tauri::command]
pub async fn save_account(
    state: State<'_, AppState>,
    draft: AccountDraft,
    replacing: Option<String>,
    api_secret: Option<String>,
    pin: Option<String>,
) -> Result<(), CommandError> {
    let config =
        edit_config(&state, |text, path| config_edit::upsert_account(text, path, &draft, replacing.as_deref()))?;
    let secret = api_secret.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if let Some(secret) = secret {
        state.engine.set_api_secret(&draft.id, Secret::new(secret)).await?;
    }
    if let Some(pin) = pin.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()) {
        state.engine.set_pin(&draft.id, Secret::new(pin)).await?;
    }
    state.engine.apply_config(config);
    Ok(())
}

#[tauri::command]
pub fn delete_account(state: State<'_, AppState>, account: String) -> Result<(), CommandError> {
    let config = edit_config(&state, |text, path| config_edit::remove_account(text, path, &account))?;
    state.engine.apply_config(config);
    Ok(())
}

#[tauri::command]
pub fn save_thresholds(state: State<'_, AppState>, orange: String, red: String) -> Result<(), CommandError> {
    let config = edit_config(&state, |text, path| config_edit::set_thresholds(text, path, &orange, &red))?;
    state.engine.apply_config(config);
    Ok(())
}

/// Reads the config file, applies `edit`, and writes the result only if it loads.
fn edit_config(
    state: &AppState,
    edit: impl FnOnce(&str, &std::path::Path) -> Result<String, EditError>,
) -> Result<Config, CommandError> {
    let path = &state.config_path;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(CommandError::other(format!("cannot read {}: {e}", path.display()))),
    };
    let new_text = edit(&text, path)?;
    // `edit` has read the result back already; this is the config to apply.
    let config = Config::parse(&new_text, path).map_err(|e| CommandError::other(e.to_string()))?;
    tokentray_adapters::atomic::write(path, new_text.as_bytes(), 0o600)
        .map_err(|e| CommandError::other(format!("cannot write {}: {e}", path.display())))?;
    Ok(config)
}

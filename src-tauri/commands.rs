//! What the window's page may call, each granted in
//! `capabilities/default.json`. The window runs in a process of its own: each
//! command is a request to the running TokenTray's engine over its control
//! channel, answered with the reply its type is paired with, and fails with
//! a `CommandError` that keeps the engine's remedy.

use crate::command_error::CommandError;
use crate::state::WindowState;
use tauri::State;
use tokentray_adapters::config::edit::AccountDraft;
use tokentray_adapters::Secret;
use tokentray_runtime::control::{self, call, Call, LoginProgress};
use tokentray_runtime::history::HistoryEntry;
use tokentray_runtime::login::PasteOutcome;
use tokentray_runtime::{AccountStatus, AccountView, Settings};

/// The engine's reply to `request`, or why there is none.
async fn ask<C: Call>(state: &WindowState, request: C) -> Result<C::Reply, CommandError> {
    control::ask(&state.engine_dir, request).await.map_err(CommandError::from)
}

#[tauri::command]
pub async fn accounts(state: State<'_, WindowState>) -> Result<Vec<AccountView>, CommandError> {
    ask(&state, call::Accounts {}).await
}

/// The last days of every account's history, for the timelines.
#[tauri::command]
pub async fn history(state: State<'_, WindowState>) -> Result<Vec<HistoryEntry>, CommandError> {
    ask(&state, call::History {}).await
}

#[tauri::command]
pub async fn settings(state: State<'_, WindowState>) -> Result<Settings, CommandError> {
    ask(&state, call::Settings {}).await
}

/// Logs in through the engine's process, which opens the browser (or, were
/// it a daemon, has this window open it); returns when the token is stored.
#[tauri::command]
pub async fn login(state: State<'_, WindowState>, account: String) -> Result<AccountStatus, CommandError> {
    let timeout_secs = tokentray_runtime::login::DEFAULT_TIMEOUT.as_secs();
    let request = call::Login { account, no_browser: false, timeout_secs, relayed: false };
    let progress = |step: &LoginProgress| {
        if let LoginProgress::OpenBrowser { url, .. } = step {
            if let Err(e) = tokentray_runtime::open_in_browser(url.as_str()) {
                tracing::warn!("{e}");
            }
        }
    };
    // Pasted addresses come through `paste_login`, as the tray's own logins take them.
    let (_paste, pasted) = tokio::sync::mpsc::channel(1);
    control::log_in(&state.engine_dir, request, progress, pasted).await.map_err(CommandError::from)
}

/// The address the browser landed on, for a login whose redirect no
/// loopback server receives (Angel One's): the running login checks it.
#[tauri::command]
pub async fn paste_login(state: State<'_, WindowState>, account: String, url: String) -> Result<(), CommandError> {
    let url = Secret::new(url.trim());
    match ask(&state, call::PasteRedirect { account, url }).await? {
        PasteOutcome::LoggedIn => Ok(()),
        refused => Err(CommandError::other(refused.refusal().unwrap_or_default())),
    }
}

#[tauri::command]
pub async fn refresh(state: State<'_, WindowState>, account: String) -> Result<AccountStatus, CommandError> {
    ask(&state, call::Refresh { account }).await
}

#[tauri::command]
pub async fn check(state: State<'_, WindowState>, account: String) -> Result<AccountStatus, CommandError> {
    ask(&state, call::Check { account }).await
}

#[tauri::command]
pub async fn logout(state: State<'_, WindowState>, account: String) -> Result<(), CommandError> {
    ask(&state, call::Logout { account }).await
}

/// Adds or edits an account: the engine rewrites the config file keeping
/// its comments, and puts the api secret and PIN (if given) in the keyring.
#[tauri::command]
pub async fn save_account(
    state: State<'_, WindowState>,
    draft: AccountDraft,
    replacing: Option<String>,
    api_secret: Option<String>,
    pin: Option<String>,
) -> Result<(), CommandError> {
    let (api_secret, pin) = (api_secret.map(Secret::new), pin.map(Secret::new));
    ask(&state, call::SaveAccount { draft: Box::new(draft), replacing, api_secret, pin }).await
}

#[tauri::command]
pub async fn delete_account(state: State<'_, WindowState>, account: String) -> Result<(), CommandError> {
    ask(&state, call::DeleteAccount { account }).await
}

#[tauri::command]
pub async fn save_thresholds(state: State<'_, WindowState>, orange: String, red: String) -> Result<(), CommandError> {
    ask(&state, call::SaveThresholds { orange, red }).await
}

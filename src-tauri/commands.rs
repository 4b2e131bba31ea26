//! What the window's page may call, each granted in
//! `capabilities/default.json`. The window runs in a process of its own: each
//! command is a request to the running TokenTray's engine over its control
//! socket, and fails with a `CommandError` that keeps the engine's remedy.

use crate::command_error::CommandError;
use crate::state::WindowState;
use tauri::State;
use tokentray_adapters::config_edit::AccountDraft;
use tokentray_adapters::Secret;
use tokentray_runtime::history::HistoryEntry;
use tokentray_runtime::ipc::{self, Request, Response};
use tokentray_runtime::{AccountStatus, AccountView, Settings};

/// The engine's answer to `request`, or why there is none.
async fn ask(state: &WindowState, request: Request) -> Result<Response, CommandError> {
    match ipc::request(&state.engine_dir, &request).await {
        Some(Response::Error { message, remedy }) => Err(CommandError { message, remedy }),
        Some(Response::Unsupported { message }) => Err(CommandError::other(message)),
        Some(response) => Ok(response),
        None => Err(CommandError::other("TokenTray is not running: start it again from the applications menu")),
    }
}

/// Named by its kind only: an answer may hold a token.
fn unexpected(response: Response) -> CommandError {
    let kind = serde_json::to_value(&response).ok().and_then(|v| v["result"].as_str().map(str::to_owned));
    CommandError::other(format!("the running TokenTray answered `{}`, not what was asked", kind.unwrap_or_default()))
}

fn status(response: Response) -> Result<AccountStatus, CommandError> {
    match response {
        Response::Status { account } => Ok(*account),
        other => Err(unexpected(other)),
    }
}

#[tauri::command]
pub async fn accounts(state: State<'_, WindowState>) -> Result<Vec<AccountView>, CommandError> {
    match ask(&state, Request::Accounts).await? {
        Response::Accounts { accounts } => Ok(accounts),
        other => Err(unexpected(other)),
    }
}

/// The last days of every account's history, for the timelines.
#[tauri::command]
pub async fn history(state: State<'_, WindowState>) -> Result<Vec<HistoryEntry>, CommandError> {
    match ask(&state, Request::History).await? {
        Response::History { entries } => Ok(entries),
        other => Err(unexpected(other)),
    }
}

#[tauri::command]
pub async fn settings(state: State<'_, WindowState>) -> Result<Settings, CommandError> {
    match ask(&state, Request::Settings).await? {
        Response::Settings { settings } => Ok(settings),
        other => Err(unexpected(other)),
    }
}

/// Opens the browser at the provider (from the engine's process); returns
/// when the token is stored.
#[tauri::command]
pub async fn login(state: State<'_, WindowState>, account: String) -> Result<AccountStatus, CommandError> {
    status(ask(&state, Request::Login { account }).await?)
}

/// The address the browser landed on, for a login whose redirect no
/// loopback server receives (Angel One's): the running login checks it.
#[tauri::command]
pub async fn paste_login(state: State<'_, WindowState>, account: String, url: String) -> Result<(), CommandError> {
    let url = tokentray_adapters::Secret::new(url.trim());
    ask(&state, Request::PasteRedirect { account, url }).await.map(drop)
}

#[tauri::command]
pub async fn refresh(state: State<'_, WindowState>, account: String) -> Result<AccountStatus, CommandError> {
    status(ask(&state, Request::Refresh { account }).await?)
}

#[tauri::command]
pub async fn check(state: State<'_, WindowState>, account: String) -> Result<AccountStatus, CommandError> {
    status(ask(&state, Request::Check { account }).await?)
}

#[tauri::command]
pub async fn logout(state: State<'_, WindowState>, account: String) -> Result<(), CommandError> {
    ask(&state, Request::Logout { account }).await.map(drop)
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
    ask(&state, Request::SaveAccount { draft: Box::new(draft), replacing, api_secret, pin }).await.map(drop)
}

#[tauri::command]
pub async fn delete_account(state: State<'_, WindowState>, account: String) -> Result<(), CommandError> {
    ask(&state, Request::DeleteAccount { account }).await.map(drop)
}

#[tauri::command]
pub async fn save_thresholds(state: State<'_, WindowState>, orange: String, red: String) -> Result<(), CommandError> {
    ask(&state, Request::SaveThresholds { orange, red }).await.map(drop)
}

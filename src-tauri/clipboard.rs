//! "Copy token": the account's token on the clipboard for half a minute, for
//! pasting into a notebook or a request by hand. It is the token a script
//! would get (renewed first if needed; never one the broker rejected), it
//! is marked as a secret for clipboard managers that keep a history (KDE's
//! Klipper honours the mark), and it is cleared after [`CLEAR_AFTER`] unless
//! something else was copied since.

use crate::state::AppState;
use std::sync::Mutex;
use std::time::Duration;
use tauri::{AppHandle, Manager, Runtime};

/// How long a copied token stays on the clipboard (password managers use 10 to 90 s).
pub const CLEAR_AFTER: Duration = Duration::from_secs(30);

/// The tray's clipboard: on X11 the copied text lives in the process that
/// copied it, so it is kept for the tray's life.
#[derive(Default)]
pub struct TokenClipboard {
    inner: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    clipboard: Option<arboard::Clipboard>,
    /// Counts copies, so that only the latest copy's timer clears.
    copies: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{0}")]
    Token(#[from] tokentray_runtime::EngineError),
    #[error("the clipboard is not available: {0}")]
    Clipboard(#[from] arboard::Error),
    /// A server's token, which its server or this config keeps there.
    #[error("{0}")]
    Server(String),
}

impl TokenClipboard {
    /// Puts `text` on the clipboard; returns the copy's number for [`Self::clear_if`].
    fn put(&self, text: &str) -> Result<u64, arboard::Error> {
        let mut held = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if held.clipboard.is_none() {
            held.clipboard = Some(arboard::Clipboard::new()?);
        }
        let set = secret_text(held.clipboard.as_mut().expect("just made"), text);
        if set.is_err() {
            // A display that went away: connect afresh next time.
            held.clipboard = None;
        }
        set?;
        held.copies += 1;
        Ok(held.copies)
    }

    /// Overwrites the token if copy number `copy` is still the last one and
    /// the clipboard still holds `text` (the user may have copied something
    /// else). Overwritten, not released: a clipboard manager that keeps the
    /// last text of an owner that lets go would bring the token back.
    fn clear_if(&self, copy: u64, text: &str) {
        let mut held = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if held.copies != copy {
            return;
        }
        let Some(clipboard) = held.clipboard.as_mut() else { return };
        if clipboard.get_text().is_ok_and(|now| now == text) {
            if let Err(e) = secret_text(clipboard, "") {
                held.clipboard = None;
                tracing::warn!("cannot clear the copied token from the clipboard: {e}");
            }
        }
    }
}

/// Sets `text`, kept out of clipboard histories (and Windows' cloud sync)
/// where the platform has a way to say so.
fn secret_text(clipboard: &mut arboard::Clipboard, text: &str) -> Result<(), arboard::Error> {
    #[cfg(target_os = "linux")]
    {
        use arboard::SetExtLinux;
        clipboard.set().exclude_from_history().text(text)
    }
    #[cfg(target_os = "windows")]
    {
        use arboard::SetExtWindows;
        clipboard.set().exclude_from_history().exclude_from_cloud().exclude_from_monitoring().text(text)
    }
    #[cfg(target_os = "macos")]
    {
        use arboard::SetExtApple;
        clipboard.set().exclude_from_history().text(text)
    }
    #[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
    clipboard.set_text(text)
}

/// Copies the account's token, says so (or why not) in a notification, and
/// clears it again after [`CLEAR_AFTER`].
pub fn copy_token<R: Runtime>(app: &AppHandle<R>, account: String) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let engine = app.state::<AppState>().engine.clone();
        let label = engine.config().account(&account).map_or(account.clone(), |a| a.label.clone());
        let copied = async {
            let text = match crate::is_server_account(&engine, &account) {
                // Only where the server's [ssh_access] and this desktop's copy_token let it.
                true => {
                    let ask = tokentray_runtime::control::call::Token { account: account.clone() };
                    tokentray_runtime::control::ask(engine.data_dir(), ask)
                        .await
                        .map_err(|e| CopyError::Server(e.to_string()))?
                        .access_token
                }
                false => engine.current_token(&account).await?.access_token,
            };
            let board = app.clone();
            let put = move || board.state::<TokenClipboard>().put(text.expose()).map(|copy| (copy, text));
            let (copy, text) = tauri::async_runtime::spawn_blocking(put).await.expect("the copy does not panic")?;
            Ok::<_, CopyError>((copy, text))
        }
        .await;
        match copied {
            Ok((copy, text)) => {
                tracing::info!(account = %account, "token copied to the clipboard");
                crate::notify::show(
                    &format!("{label}: token copied"),
                    &format!("It is cleared from the clipboard in {} seconds.", CLEAR_AFTER.as_secs()),
                );
                tokio::time::sleep(CLEAR_AFTER).await;
                let clear = move || app.state::<TokenClipboard>().clear_if(copy, text.expose());
                let _ = tauri::async_runtime::spawn_blocking(clear).await;
            }
            Err(e) => {
                tracing::warn!(account = %account, "cannot copy the token: {e}");
                crate::notify::show(&format!("{label}: token not copied"), &e.to_string());
            }
        }
    });
}

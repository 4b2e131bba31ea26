//! Notifications on Windows: toasts, with "Log in" and "Snooze 1 h" as
//! buttons (notify-rust's Windows path has no buttons).
//!
//! A toast is shown under an AppUserModelID. The installer's Start-menu
//! shortcut cannot carry one with Debian's NSIS plugins, so the tray files
//! its own under `HKCU\Software\Classes\AppUserModelId` (name and icon, no
//! administrator needed), as Microsoft documents for unpackaged desktop
//! apps. Clicks reach this process while it runs, which a tray does.

#![allow(unsafe_code)] // the registry calls; each block's SAFETY note says why it is sound

use std::ffi::OsStr;
use std::os::windows::ffi::OsStrExt;
use tauri_winrt_notification::{Duration, Toast};
use windows_sys::Win32::System::Registry::{RegSetKeyValueW, HKEY_CURRENT_USER, REG_SZ};

/// The app's identifier (`tauri.conf.json`), as its toasts' sender.
pub const APP_ID: &str = "dev.tokentray.app";

/// Files the sender's name and icon for the toasts; best effort (without
/// it Windows shows the toast under the identifier itself).
pub fn register() {
    let key = wide(&format!(r"Software\Classes\AppUserModelId\{APP_ID}"));
    let icon = std::env::current_exe().ok().map(|exe| exe.with_file_name("icon.png"));
    let mut values = vec![("DisplayName", "TokenTray".to_owned())];
    if let Some(icon) = icon.filter(|p| p.is_file()) {
        values.push(("IconUri", icon.display().to_string()));
    }
    for (name, value) in values {
        let (name, value) = (wide(name), wide(&value));
        // SAFETY: every string is NUL-terminated and outlives the call; the size is the value's, in bytes.
        let status = unsafe {
            RegSetKeyValueW(
                HKEY_CURRENT_USER,
                key.as_ptr(),
                name.as_ptr(),
                REG_SZ,
                value.as_ptr().cast(),
                (value.len() * 2) as u32,
            )
        };
        if status != 0 {
            tracing::warn!("cannot file TokenTray's toast sender in the registry (error {status})");
        }
    }
}

/// A toast with no button.
pub fn plain(summary: &str, body: &str) {
    if let Err(e) = Toast::new(APP_ID).title(summary).text1(body).show() {
        tracing::warn!("cannot show a notification: {e}");
    }
}

/// Shows a toast with `buttons` (label, action); a click on one calls
/// `clicked` with its action, a click on the toast itself with `None`.
pub fn show(summary: &str, body: &str, buttons: &[(&str, &str)], clicked: impl Fn(Option<&str>) + Send + 'static) {
    let mut toast = Toast::new(APP_ID).title(summary).text1(body).duration(Duration::Long);
    for (label, action) in buttons {
        toast = toast.add_button(label, action);
    }
    let toast = toast.on_activated(move |action| {
        clicked(action.as_deref());
        Ok(())
    });
    if let Err(e) = toast.show() {
        tracing::warn!("cannot show a notification: {e}");
    }
}

fn wide(text: &str) -> Vec<u16> {
    OsStr::new(text).encode_wide().chain(std::iter::once(0)).collect()
}

//! "Start at login", so that the menu's tick says what will happen at the
//! next login. Linux: by the XDG Autostart rules (`autostart_xdg.rs`).
//! Windows: the registry's Run value (`autostart_run_key.rs`), the one the
//! installer writes, so the tick and the installer's choice are one.
//! macOS: tauri-plugin-autostart (a LaunchAgent).

#[cfg(target_os = "linux")]
use crate::autostart_xdg::Autostart;
use tauri::{AppHandle, Runtime};

/// Whether TokenTray starts at the next login (the menu's tick).
pub fn is_enabled<R: Runtime>(_app: &AppHandle<R>) -> bool {
    #[cfg(target_os = "linux")]
    return Autostart::from_env().is_ok_and(|a| a.is_enabled());
    #[cfg(windows)]
    return crate::autostart_run_key::is_enabled();
    #[cfg(target_os = "macos")]
    return tauri_plugin_autostart::ManagerExt::autolaunch(_app).is_enabled().unwrap_or(false);
}

pub fn set<R: Runtime>(_app: &AppHandle<R>, on: bool) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    return Autostart::from_env().and_then(|a| a.set(on)).map_err(|e| e.to_string());
    #[cfg(windows)]
    return crate::autostart_run_key::set(on);
    #[cfg(target_os = "macos")]
    {
        let launcher = tauri_plugin_autostart::ManagerExt::autolaunch(_app);
        let result = if on { launcher.enable() } else { launcher.disable() };
        result.map_err(|e| e.to_string())
    }
}

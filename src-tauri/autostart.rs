//! "Start at login", so that the menu's tick says what will happen at the
//! next login. Linux: by the XDG Autostart rules (`autostart_xdg.rs`).
//! Windows (and macOS): tauri-plugin-autostart, which on Windows writes the
//! registry's Run key (`HKCU\Software\Microsoft\Windows\CurrentVersion\Run`)
//! with `--background`; the installer writes the same value, so the tick
//! and the installer's choice are one.

#[cfg(target_os = "linux")]
use crate::autostart_xdg::Autostart;
use tauri::{AppHandle, Runtime};

/// Whether TokenTray starts at the next login (the menu's tick).
pub fn is_enabled<R: Runtime>(_app: &AppHandle<R>) -> bool {
    #[cfg(target_os = "linux")]
    return Autostart::from_env().is_ok_and(|a| a.is_enabled());
    #[cfg(not(target_os = "linux"))]
    return tauri_plugin_autostart::ManagerExt::autolaunch(_app).is_enabled().unwrap_or(false);
}

pub fn set<R: Runtime>(_app: &AppHandle<R>, on: bool) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    return Autostart::from_env().and_then(|a| a.set(on)).map_err(|e| e.to_string());
    #[cfg(not(target_os = "linux"))]
    {
        let launcher = tauri_plugin_autostart::ManagerExt::autolaunch(_app);
        let result = if on { launcher.enable() } else { launcher.disable() };
        result.map_err(|e| e.to_string())
    }
}

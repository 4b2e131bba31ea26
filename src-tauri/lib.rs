//! The TokenTray desktop app. The engine lives in the workspace crates under
//! `crates/`; this package is the tray's shell around it.

/// Starts the desktop app and blocks until it quits.
pub fn run() {
    tauri::Builder::default().run(tauri::generate_context!()).expect("the TokenTray desktop app could not start");
}

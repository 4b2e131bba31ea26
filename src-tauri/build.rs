fn main() {
    // Listing the app's commands makes tauri-build generate one permission per
    // command; capabilities/default.json grants the window only these.
    let commands = &[
        "accounts",
        "history",
        "settings",
        "login",
        "paste_login",
        "refresh",
        "check",
        "logout",
        "save_account",
        "delete_account",
        "save_thresholds",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri-build runs");
}

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use tokentray_runtime::demo::Demo;
use tokentray_runtime::Engine;

/// What the commands, the tray and the window share.
pub struct AppState {
    pub engine: Engine,
    pub config_path: PathBuf,
    /// The demo broker, when running on it (dropping it stops the broker).
    pub demo: Option<Demo>,
    /// The window was opened from the tray: it hides when it loses focus.
    pub opened_from_tray: AtomicBool,
}

//! What the tray process's parts share (the engine, the demo, how it was
//! started), and what the window process's commands share.

use crate::Args;
use std::path::PathBuf;
use tokentray_runtime::demo::Demo;
use tokentray_runtime::Engine;

/// What the tray process's parts share.
pub struct AppState {
    pub engine: Engine,
    /// The demo broker, when running on it: held, because dropping it stops the broker.
    pub _demo: Option<Demo>,
    /// How the tray was started: the window process is started the same way.
    pub args: Args,
}

/// What the window process's commands share: where the running engine's
/// control socket is.
pub struct WindowState {
    pub engine_dir: PathBuf,
}

//! The tray never creates a web view: "Open TokenTray" starts the window as
//! a process of its own (this binary with `--window`), which talks to this
//! engine over the control socket and ends, with every WebKit child, when it
//! is closed. A web view costs hundreds of megabytes that a tray running all
//! day should not keep after one look.

use crate::Args;
use std::path::Path;
use std::process::{Command, Stdio};

/// Starts the window process for the engine serving `engine_dir`, beside
/// the tray icon at `near` when the desktop says where that is; one that
/// runs already comes forward instead (it answers the new one, which leaves).
pub fn open(args: &Args, engine_dir: &Path, near: Option<crate::placement::Rect>) {
    // This very program, even when a package upgrade replaced the file since.
    #[cfg(target_os = "linux")]
    let exe = std::path::PathBuf::from("/proc/self/exe");
    #[cfg(not(target_os = "linux"))]
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return tracing::error!("cannot find this program to open the window: {e}"),
    };
    let mut command = Command::new(exe);
    command.arg("--window").arg("--engine-dir").arg(engine_dir).stdin(Stdio::null());
    if args.demo {
        command.arg("--demo");
    }
    if let Some(rect) = near {
        command.arg("--near").arg(rect.to_string());
    }
    if let Some(config) = &args.config {
        command.arg("--config").arg(config);
    }
    match command.spawn() {
        // Reaped when it ends, so no zombie stays behind the tray.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => tracing::error!("cannot open the window: {e}"),
    }
}

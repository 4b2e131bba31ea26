//! `tokentray` with no command: start the tray app, which is its own binary
//! (`tokentray-tray`, beside this one) so that this one needs no GUI library.

use crate::cli::Global;
use crate::context::CliError;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

const TRAY_BINARY: &str = "tokentray-tray";

pub fn launch(global: &Global, demo: bool) -> Result<ExitCode, CliError> {
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        return Err(CliError::Usage(
            "no desktop session for the tray here: run `tokentray daemon` on a server, \
             or `tokentray demo` to try TokenTray in the terminal; `tokentray --help` lists the commands"
                .to_owned(),
        ));
    }
    let binary = tray_binary().ok_or_else(|| {
        CliError::Usage(format!(
            "the tray app ({TRAY_BINARY}) is not installed beside tokentray or on PATH; build it with \
             `cargo build --release -p tokentray-app`, or use `tokentray demo` / `tokentray daemon`"
        ))
    })?;
    let mut command = Command::new(&binary);
    let no_config = tokentray_adapters::paths::config_file(global.config.clone()).map(|p| !p.exists()).unwrap_or(true);
    if demo {
        command.arg("--demo");
    }
    if demo || no_config {
        // A newcomer on the demo sees the window; a configured tray starts quietly.
        command.arg("--show");
    }
    if let Some(config) = &global.config {
        command.arg("--config").arg(config);
    }
    let failed = |source| CliError::Io { context: format!("cannot start {}", binary.display()), source };
    // The tray takes this process's place, so signals and the exit code are its own.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        Err(failed(command.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_err(failed)?;
        Ok(ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8))
    }
}

fn tray_binary() -> Option<PathBuf> {
    let beside = std::env::current_exe().ok()?.with_file_name(TRAY_BINARY);
    if beside.is_file() {
        return Some(beside);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(TRAY_BINARY)).find(|p| p.is_file())
}

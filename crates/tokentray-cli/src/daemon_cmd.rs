//! `tokentray daemon`: the engine without a GUI, for servers (see
//! `packaging/tokentray.service`). Stops cleanly on SIGTERM and Ctrl-C.

use crate::cli::Global;
use crate::context::{CliError, Context};
use std::process::ExitCode;
use tokentray_adapters::paths;

/// How long a stop waits for work in flight: inside the unit's
/// `TimeoutStopSec=20`, with room to exit before systemd sends SIGKILL.
const STOP_LIMIT: std::time::Duration = std::time::Duration::from_secs(15);

pub async fn run(global: &Global) -> Result<ExitCode, CliError> {
    let config_path = paths::config_file(global.config.clone())?;
    let ctx = match Context::load(Some(config_path.clone())) {
        Err(CliError::Config(e)) if e.is_missing_file() => {
            return Err(CliError::Usage(format!(
                "no config at {}: create one (see the README), or try `tokentray demo` first",
                config_path.display()
            )))
        }
        other => other?,
    };
    let log = ctx.data_dir.join("tokentray.log");
    crate::logging::init("info", Some(&log))
        .map_err(|source| CliError::Io { context: format!("cannot open the log {}", log.display()), source })?;
    let engine = ctx.engine()?;
    let host = tokentray_runtime::control::Host { show: None, opens_browser: false, demo: false };
    // The socket is claimed first (one daemon per data directory), and
    // answers only once what a crash left behind is put right: a request
    // must never renew with a refresh token the journal has replaced.
    let claimed = tokentray_runtime::control::claim(&engine).await?;
    engine.recover(true).await?;
    let _control = tokentray_runtime::control::serve_claimed(claimed, engine.clone(), host);
    let scheduler = engine.spawn_scheduler();
    let api = ctx.config.api;
    if api.enabled {
        if let Err(e) = tokentray_runtime::api::serve(engine.clone(), api.port).await {
            tracing::error!("{e}; scripts cannot reach the API, the rest runs");
        }
    }
    let _watch = tokentray_runtime::watch::watch(&engine, &config_path, Box::new(|_| {}))?;
    // Said only now that everything runs: tests and supervisors wait for this line.
    tracing::info!(
        "daemon started: {} account(s) from {}; secrets in the {}; log {}",
        ctx.config.accounts.len(),
        config_path.display(),
        engine.storage(),
        log.display()
    );
    wait_for_signal().await;
    tracing::info!("stopping: waiting for refreshes and writes in flight");
    if !engine.stop(STOP_LIMIT).await {
        tracing::warn!(
            "stopping with work still in flight after {}s; the journal keeps any new token",
            STOP_LIMIT.as_secs()
        );
    }
    let _ = scheduler.await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

pub async fn wait_for_signal() {
    tokentray_runtime::process::stop_requested().await;
}

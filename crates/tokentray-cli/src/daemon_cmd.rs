//! `tokentray daemon`: the engine without a GUI, for servers (see
//! `packaging/tokentray.service`). Stops cleanly on SIGTERM and Ctrl-C (on
//! Windows also a console's close, log-off and shutdown), and on `tokentray stop`.

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
    // `tokentray stop` stops it as SIGTERM does (Windows has no SIGTERM for a
    // daemon without a console).
    let asked = std::sync::Arc::new(tokio::sync::Notify::new());
    let ask = asked.clone();
    let host = tokentray_runtime::control::Host {
        show: None,
        opens_browser: false,
        demo: false,
        stop: Some(Box::new(move || ask.notify_one())),
    };
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
    tokio::select! {
        _ = wait_for_signal() => {}
        _ = asked.notified() => tracing::info!("asked to stop (`tokentray stop`)"),
    }
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

/// `tokentray stop`: asks the running engine to stop, then waits until its
/// claim is let go (its last work done). Nothing running is no error.
pub async fn stop(global: &Global) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    match crate::account_cmd::handed_over(&ctx, tokentray_runtime::control::call::Stop {}).await? {
        None => {
            eprintln!("no TokenTray runs here: nothing to stop");
            return Ok(ExitCode::SUCCESS);
        }
        Some(()) => eprintln!("stopping the running TokenTray: waiting for its work in flight"),
    }
    // Its own limit, and room to let go of the claim.
    let limit = STOP_LIMIT + std::time::Duration::from_secs(5);
    if tokentray_runtime::control::wait_until_stopped(&ctx.data_dir, limit).await {
        eprintln!("stopped");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::Remote(tokentray_runtime::control::ClientError::Dropped(format!(
            "it was asked, but still runs after {}s",
            limit.as_secs()
        ))))
    }
}

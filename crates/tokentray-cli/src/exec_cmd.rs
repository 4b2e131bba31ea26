//! `tokentray exec ACCOUNT -- COMMAND...`: the command runs with the token in
//! its environment, receives the signals sent to us, and its exit code is
//! ours. With `--restart-on-change` it is restarted (SIGTERM, a grace period,
//! SIGKILL) whenever a new token arrives, from this process or another.

use crate::account_cmd::fetch_token;
use crate::cli::Global;
use crate::context::{CliError, Context};
use std::process::ExitCode;
use std::time::Duration;
use tokentray_adapters::config::AccountConfig;
use tokentray_adapters::sinks::Field;
use tokentray_runtime::control::{self, HandedToken};
use tokentray_runtime::EventKind;
use tokio::process::{Child, Command};

fn spawn(command: &[String], account: &AccountConfig, handed: &HandedToken) -> Result<Child, CliError> {
    let token = handed.access_token.expose();
    let mut c = Command::new(&command[0]);
    c.args(&command[1..]).env("TOKENTRAY_ACCOUNT", &account.id).env("TOKENTRAY_ACCESS_TOKEN", token);
    for (name, field) in account.provider.describe().env {
        let value = match field {
            Field::AccessToken => Some(token),
            Field::ApiKey => Some(account.api_key.as_str()),
            Field::UserId => account.user_id.as_deref(),
            Field::FeedToken => handed.feed_token.as_ref().map(|t| t.expose()),
            Field::ExpiresAt | Field::Account => None,
        };
        if let Some(value) = value {
            c.env(name, value);
        }
    }
    c.spawn().map_err(|source| CliError::Io { context: format!("cannot run `{}`", command[0]), source })
}

#[cfg(unix)]
#[allow(unsafe_code)] // each block's SAFETY note says why it is sound
fn send(child: &Child, signal: i32) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) on a child we spawned and have not reaped.
        unsafe {
            libc::kill(pid as libc::pid_t, signal);
        }
    }
}

/// SIGTERM, then SIGKILL if it has not exited within `grace`.
async fn stop(child: &mut Child, grace: Duration) {
    #[cfg(unix)]
    send(child, libc::SIGTERM);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return ExitCode::from((128 + signal).clamp(0, 255) as u8);
        }
    }
    ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8)
}

pub async fn run(
    global: &Global,
    id: &str,
    restart_on_change: bool,
    grace: Duration,
    command: Vec<String>,
) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    let account = ctx.account(id)?.clone();
    let mut token = fetch_token(&ctx, id).await?;
    let engine = ctx.engine()?;
    // The child shares our stderr: this process works (and warns) for its account only.
    engine.focus(id);
    let mut events = engine.subscribe();
    // Watch for tokens stored by any process; refresh here only if no
    // TokenTray runs to do it.
    let (_watch, _scheduler) = if restart_on_change {
        let watch = tokentray_runtime::watch::watch(&engine, &ctx.config.path, Box::new(|_| {}))?;
        let alone = !control::is_running(&ctx.data_dir).await;
        (Some(watch), alone.then(|| engine.spawn_scheduler()))
    } else {
        (None, None)
    };
    let mut signals = Signals::new()?;
    loop {
        let mut child = spawn(&command, &account, &token)?;
        let restart = loop {
            tokio::select! {
                status = child.wait() => {
                    let status = status.map_err(|source| CliError::Io { context: "waiting for the command".into(), source })?;
                    engine.shutdown();
                    return Ok(exit_code(status));
                }
                signal = signals.next() => {
                    #[cfg(unix)]
                    send(&child, signal);
                    #[cfg(not(unix))]
                    let _ = signal;
                }
                event = events.recv(), if restart_on_change => {
                    if matches!(&event, Ok(e) if e.account == id && e.kind == EventKind::TokenChanged) {
                        match engine.tokens(id).await {
                            Ok(t) if t.access_token != token.access_token => break HandedToken::from(&t),
                            _ => {}
                        }
                    }
                }
            }
        };
        tracing::info!("new token for {id}: restarting `{}`", command[0]);
        eprintln!("tokentray: new token for {id}; restarting {}", command[0]);
        stop(&mut child, grace).await;
        token = restart;
    }
}

/// The signals a supervisor passes on to its child.
struct Signals {
    #[cfg(unix)]
    streams: Vec<(i32, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn new() -> Result<Self, CliError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut streams = Vec::new();
            for (number, kind) in [
                (libc::SIGINT, SignalKind::interrupt()),
                (libc::SIGTERM, SignalKind::terminate()),
                (libc::SIGHUP, SignalKind::hangup()),
                (libc::SIGQUIT, SignalKind::quit()),
                (libc::SIGUSR1, SignalKind::user_defined1()),
                (libc::SIGUSR2, SignalKind::user_defined2()),
            ] {
                let s =
                    signal(kind).map_err(|source| CliError::Io { context: "cannot handle signals".into(), source })?;
                streams.push((number, s));
            }
            Ok(Self { streams })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn next(&mut self) -> i32 {
        #[cfg(unix)]
        {
            let futures = self.streams.iter_mut().map(|(n, s)| {
                let n = *n;
                Box::pin(async move {
                    s.recv().await;
                    n
                })
            });
            futures_util::future::select_all(futures).await.0
        }
        #[cfg(not(unix))]
        std::future::pending().await
    }
}

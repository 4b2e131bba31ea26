//! `tokentray exec ACCOUNT -- COMMAND...`: the command runs with the token in
//! its environment, receives the signals sent to us, and its exit code is
//! ours. With `--restart-on-change` it is restarted (SIGTERM, a grace period,
//! SIGKILL; on Windows Ctrl+Break, the grace, the Job Object ended)
//! whenever a new token arrives, from this process or another.

use crate::account_cmd::fetch_token;
use crate::cli::Global;
use crate::context::{CliError, Context};
use std::process::ExitCode;
use std::time::Duration;
use tokentray_adapters::config::AccountConfig;
use tokentray_adapters::sinks::Field;
use tokentray_runtime::control::{self, HandedToken};
use tokentray_runtime::process_tree::{exit_code, ProcessTree, Relay, Terminal};
use tokentray_runtime::EventKind;
use tokio::process::Command;

fn spawn(command: &[String], account: &AccountConfig, handed: &HandedToken) -> Result<ProcessTree, CliError> {
    let token = handed.access_token.expose();
    let mut c = Command::new(&command[0]);
    c.args(&command[1..]).env("TOKENTRAY_ACCOUNT", &account.id).env("TOKENTRAY_ACCESS_TOKEN", token);
    for (name, field) in account.provider.describe().env {
        let value = match field {
            Field::AccessToken => Some(token),
            Field::ApiKey => Some(account.api_key.as_str()),
            Field::UserId => account.user_id.as_deref(),
            Field::FeedToken => handed.feed_token.as_ref().map(|t| t.expose()),
            Field::TokenSecret => handed.token_secret.as_ref().map(|t| t.expose()),
            Field::ExpiresAt | Field::Account => None,
        };
        if let Some(value) = value {
            c.env(name, value);
        }
    }
    // Its own tree (a Job Object on Windows), in the terminal's foreground:
    // a restart ends whatever the old one started.
    ProcessTree::spawn(c, Terminal::Share)
        .map_err(|source| CliError::Io { context: format!("cannot run `{}`", command[0]), source })
}

/// Asks it to stop (SIGTERM; Ctrl+Break on Windows), then ends its whole
/// tree if it has not exited within `grace`.
async fn stop(child: &mut ProcessTree, grace: Duration) {
    child.ask_to_stop();
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        child.kill().await;
    }
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
    let mut signals =
        Relay::new().map_err(|source| CliError::Io { context: "cannot handle signals".into(), source })?;
    loop {
        let mut child = spawn(&command, &account, &token)?;
        let restart = loop {
            tokio::select! {
                status = child.wait() => {
                    let status = status.map_err(|source| CliError::Io { context: "waiting for the command".into(), source })?;
                    engine.shutdown();
                    return Ok(ExitCode::from(exit_code(status)));
                }
                signal = signals.next() => child.relay(signal),
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

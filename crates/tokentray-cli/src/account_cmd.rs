//! `login`, `refresh`, `logout`, `token`: one account, one action, in this
//! process. Locks in the data directory keep them from colliding with a
//! running daemon or tray, which picks up the result from the state file.

use crate::cli::Global;
use crate::context::{CliError, Context};
use chrono::Local;
use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;
use tokentray_core::State;
use tokentray_runtime::login::LoginOptions;

pub async fn login(global: &Global, id: &str, no_browser: bool, timeout: Duration) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    ctx.account(id)?;
    let engine = ctx.engine()?;
    let pasted = no_browser.then(|| {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        rx
    });
    let options = LoginOptions {
        open_browser: !no_browser,
        timeout,
        pasted,
        show_url: Box::new(move |url| {
            if no_browser {
                eprintln!("Open this URL in a browser and log in:\n\n  {url}\n");
                eprintln!("Then paste here the whole URL the browser lands on (or let it reach this machine):");
            } else {
                eprintln!("Opening the browser to log in. If nothing opens, visit:\n  {url}");
            }
        }),
    };
    let outcome = engine.login(id, options).await?;
    let s = outcome.status;
    let user = s.user_id.as_deref().map(|u| format!(" as {u}")).unwrap_or_default();
    let until = s.expires_at.map(|t| t.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %Z").to_string());
    eprintln!("{id}: logged in{user}; the token works until {}", until.as_deref().unwrap_or("?"));
    Ok(ExitCode::SUCCESS)
}

pub async fn refresh(global: &Global, id: &str) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    ctx.account(id)?;
    let s = ctx.engine()?.refresh(id).await?;
    eprintln!("{id}: {} ({}); {}", s.state.as_str(), s.level.as_str(), s.countdown);
    Ok(ExitCode::SUCCESS)
}

pub async fn logout(global: &Global, id: &str) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    ctx.account(id)?;
    ctx.engine()?.logout(id).await?;
    eprintln!("{id}: logged out");
    Ok(ExitCode::SUCCESS)
}

/// Prints only the access token. A token that is still valid is served as
/// it is; an expired one is refreshed first where the provider allows it.
pub async fn token(global: &Global, id: &str) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    ctx.account(id)?;
    let engine = ctx.engine()?;
    let mut status = engine.status(id)?;
    if status.state != State::Valid && status.auto_refresh {
        status = engine.refresh(id).await?;
    }
    if status.state != State::Valid {
        let why = match status.state {
            State::NoToken => "not logged in".to_owned(),
            State::Expired => format!(
                "the token expired at {}",
                status.expires_at.map(|t| t.with_timezone(&Local).format("%H:%M:%S").to_string()).unwrap_or_default()
            ),
            _ => "the provider rejected the token".to_owned(),
        };
        return Err(CliError::LoginNeeded(format!("{id}: {why}; run `tokentray login {id}`")));
    }
    let tokens = engine.tokens(id).await?;
    println!("{}", tokens.access_token.expose());
    Ok(ExitCode::SUCCESS)
}

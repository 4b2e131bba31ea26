//! `login`, `refresh`, `logout`, `token`: one account, one action, in this
//! process. Locks in the data directory keep them from colliding with a
//! running daemon or tray, which picks up the result from the state file.

use crate::cli::Global;
use crate::context::{CliError, Context};
use chrono::Local;
use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;
use tokentray_runtime::ipc::{self, Request, Response};
use tokentray_runtime::login::LoginOptions;
use tokentray_runtime::AccountStatus;

pub async fn login(global: &Global, id: &str, no_browser: bool, timeout: Duration) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    ctx.account(id)?;
    if !no_browser {
        if ipc::socket_path(&ctx.data_dir).exists() {
            eprintln!("{id}: the running TokenTray opens the browser; complete the login there");
        }
        if let Some(status) = handed_over(&ctx, Request::Login { account: id.to_owned() }).await? {
            return logged_in(id, &status);
        }
    }
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
    logged_in(id, &outcome.status)
}

fn logged_in(id: &str, s: &AccountStatus) -> Result<ExitCode, CliError> {
    let user = s.user_id.as_deref().map(|u| format!(" as {u}")).unwrap_or_default();
    let until = s.expires_at.map(|t| t.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %Z").to_string());
    eprintln!("{id}: logged in{user}; the token works until {}", until.as_deref().unwrap_or("?"));
    Ok(ExitCode::SUCCESS)
}

/// Hands `request` to the running tray or daemon. `None`: nobody is running
/// (or it cannot do this), so this process does the work itself.
async fn handed_over(ctx: &Context, request: Request) -> Result<Option<AccountStatus>, CliError> {
    match ipc::request(&ctx.data_dir, &request).await {
        Some(Response::Status { account }) => Ok(Some(*account)),
        Some(Response::Error { message, needs_login: true }) => Err(CliError::LoginNeeded(message)),
        Some(Response::Error { message, .. }) => Err(CliError::Remote(message)),
        _ => Ok(None),
    }
}

pub async fn refresh(global: &Global, id: &str) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    ctx.account(id)?;
    let s = match handed_over(&ctx, Request::Refresh { account: id.to_owned() }).await? {
        Some(s) => s,
        None => ctx.engine()?.refresh(id).await?,
    };
    eprintln!("{id}: {} ({}); {}", s.state.as_str(), s.level.as_str(), s.countdown);
    Ok(ExitCode::SUCCESS)
}

pub async fn logout(global: &Global, id: &str) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    ctx.account(id)?;
    match ipc::request(&ctx.data_dir, &Request::Logout { account: id.to_owned() }).await {
        Some(Response::Done { .. }) => {}
        Some(Response::Error { message, .. }) => return Err(CliError::Remote(message)),
        _ => ctx.engine()?.logout(id).await?,
    }
    eprintln!("{id}: logged out");
    Ok(ExitCode::SUCCESS)
}

/// The access token: from the running TokenTray if there is one, else here.
pub async fn fetch_token(ctx: &Context, id: &str) -> Result<String, CliError> {
    match ipc::request(&ctx.data_dir, &Request::Token { account: id.to_owned() }).await {
        Some(Response::Token { access_token }) => Ok(access_token),
        Some(Response::Error { message, needs_login: true }) => Err(CliError::LoginNeeded(message)),
        Some(Response::Error { message, .. }) => Err(CliError::Remote(message)),
        _ => Ok(ctx.engine()?.current_token(id).await?.access_token.expose().to_owned()),
    }
}

pub async fn header(global: &Global, id: &str) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    let account = ctx.account(id)?.clone();
    let token = tokentray_engine::Secret::new(fetch_token(&ctx, id).await?);
    println!("{}", tokentray_engine::provider::authorization_header(account.provider, &account.api_key, &token));
    Ok(ExitCode::SUCCESS)
}

pub async fn api_key(global: &Global) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    println!("{}", ctx.engine()?.api_key().await?.expose());
    Ok(ExitCode::SUCCESS)
}

/// Prints only the access token. A token that is still valid is served as
/// it is; an expired one is refreshed first where the provider allows it.
pub async fn token(global: &Global, id: &str) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    ctx.account(id)?;
    let token = fetch_token(&ctx, id).await?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

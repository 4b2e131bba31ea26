//! `login`, `refresh`, `check`, `logout`, `token`: one account, one action.
//! When a tray or daemon runs, the action is handed to its engine, which
//! answers from then on with what it did. When none runs, this process
//! does it, then tells any engine that started meanwhile (`Adopt`), so
//! that once a command returns every running TokenTray answers from it.

use crate::cli::Global;
use crate::context::{CliError, Context};
use crate::remote_cmd;
use chrono::Local;
use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;
use tokentray_adapters::Secret;
use tokentray_runtime::control::{self, call, ClientError, HandedToken, LoginProgress};
use tokentray_runtime::login::{LoginOptions, Pasted};
use tokentray_runtime::remote::AccountCall;
use tokentray_runtime::AccountStatus;
use tokio::sync::mpsc;

pub async fn login(global: &Global, id: &str, no_browser: bool, timeout: Duration) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    let route = ctx.account_or_route(id)?;
    // Where the broker shows a code to type (E*TRADE, Upstox's console), the prompt says so.
    let what = match ctx.config.account(id).map(|a| a.describe().login) {
        Some(login) if login.typed_field().is_some() && !login.redirects() => "the token the page shows",
        Some(login) if login.typed_field().is_some() => {
            "the code the page shows (or the whole address the browser lands on)"
        }
        _ => "the whole address the browser lands on",
    };
    let request =
        call::Login { account: id.to_owned(), no_browser, timeout_secs: timeout.as_secs().max(1), relayed: false };
    let (paste, pasted) = mpsc::channel(4);
    match control::log_in(&ctx.data_dir, request, progress_printer(id, no_browser, paste, what), pasted).await {
        Ok(status) => return logged_in(id, &status),
        Err(ClientError::NotRunning) => {}
        Err(e) => return Err(CliError::Remote(e)),
    }
    // A server's account, and nothing runs here to follow it: a session of this command's own.
    if let Some(route) = route {
        let (paste, pasted) = mpsc::channel(4);
        let status =
            remote_cmd::login_here(&route, timeout, progress_printer(id, no_browser, paste, what), pasted).await?;
        return logged_in(id, &status);
    }
    let engine = local_engine(&ctx).await?;
    let (paste, pasted) = mpsc::channel(4);
    let options = LoginOptions {
        open_browser: !no_browser,
        timeout,
        pasted: Some(answered(pasted, id)),
        show_url: Box::new(move |url| {
            if no_browser {
                show_url(&url.authorize, what);
                read_pasted_lines(paste.clone());
            } else {
                eprintln!("Opening the browser to log in. If nothing opens, visit:\n  {}", url.authorize);
                if url.paste {
                    eprintln!("Then paste here {what}:");
                    read_pasted_lines(paste.clone());
                }
            }
        }),
        // Pasted here, on standard input.
        paste_from_window: false,
        abandoned: None,
        relayed: false,
    };
    let outcome = engine.login(id, options).await?;
    announce(&ctx, id, false).await;
    logged_in(id, &outcome.status)
}

/// Says how a login handed elsewhere goes (to the running TokenTray, or a
/// server), opens the browser where it is this process's to open, and
/// reads pasted addresses from standard input where they are wanted.
fn progress_printer(
    id: &str,
    no_browser: bool,
    paste: mpsc::Sender<Secret>,
    what: &'static str,
) -> impl FnMut(&LoginProgress) {
    let id = id.to_owned();
    let mut paste = Some(paste);
    move |step: &LoginProgress| match step {
        LoginProgress::BrowserOpened { paste_in_window } => {
            eprintln!("{id}: the running TokenTray opened the browser; complete the login there");
            if *paste_in_window {
                eprintln!("Then paste {what} here or into TokenTray's window:");
                if let Some(paste) = paste.take() {
                    read_pasted_lines(paste);
                }
            }
        }
        LoginProgress::OpenBrowser { url, .. } if no_browser => {
            show_url(url, what);
            if let Some(paste) = paste.take() {
                read_pasted_lines(paste);
            }
        }
        LoginProgress::OpenBrowser { url, paste: paste_here, .. } => {
            eprintln!("Opening the browser to log in. If nothing opens, visit:\n  {url}");
            if let Err(e) = tokentray_runtime::open_in_browser(url.as_str()) {
                eprintln!("{e}");
            }
            if *paste_here {
                eprintln!("Then paste here {what}:");
                if let Some(paste) = paste.take() {
                    read_pasted_lines(paste);
                }
            }
        }
        LoginProgress::ShowUrl { url } => {
            show_url(url, what);
            if let Some(paste) = paste.take() {
                read_pasted_lines(paste);
            }
        }
        LoginProgress::PasteRefused { why } => eprintln!("{id}: {why}"),
    }
}

fn show_url(url: &impl std::fmt::Display, what: &str) {
    eprintln!("Open this URL in a browser and log in:\n\n  {url}\n");
    eprintln!("Then paste here {what} (or let it reach this machine):");
}

/// Reads standard input's lines into `paste` on a thread of their own
/// (a terminal blocks), until the login ends.
fn read_pasted_lines(paste: mpsc::Sender<Secret>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if line.trim().is_empty() {
                continue;
            }
            if paste.blocking_send(Secret::new(line.trim())).is_err() {
                break;
            }
        }
    });
}

/// Pasted lines for this process's own login, each outcome said on stderr.
fn answered(mut lines: mpsc::Receiver<Secret>, id: &str) -> mpsc::Receiver<Pasted> {
    let (sender, pasted) = mpsc::channel(4);
    let id = id.to_owned();
    tokio::spawn(async move {
        while let Some(line) = lines.recv().await {
            let (reply, outcome) = tokio::sync::oneshot::channel();
            if sender.send(Pasted { line: line.expose().to_owned(), reply: Some(reply) }).await.is_err() {
                break;
            }
            if let Some(why) = outcome.await.ok().and_then(|o| o.refusal()) {
                eprintln!("{id}: {why}");
            }
        }
    });
    pasted
}

fn logged_in(id: &str, s: &AccountStatus) -> Result<ExitCode, CliError> {
    let user = s.user_id.as_deref().map(|u| format!(" as {u}")).unwrap_or_default();
    let until = s.expires_at.map(|t| t.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %Z").to_string());
    eprintln!("{id}: logged in{user}; the token works until {}", until.as_deref().unwrap_or("?"));
    Ok(ExitCode::SUCCESS)
}

/// Hands `request` to the running tray or daemon: `None` when nothing runs
/// here, so this process does the work itself.
pub(crate) async fn handed_over<C: control::Call>(ctx: &Context, request: C) -> Result<Option<C::Reply>, CliError> {
    match control::ask(&ctx.data_dir, request).await {
        Ok(reply) => Ok(Some(reply)),
        Err(ClientError::NotRunning) => Ok(None),
        Err(e) => Err(CliError::Remote(e)),
    }
}

/// Tells an engine that started while this process did the work itself to
/// take it from the files, and waits until it has: once this command
/// returns, it answers from the new truth.
pub(crate) async fn announce(ctx: &Context, id: &str, new_credentials: bool) {
    let adopt = call::Adopt { account: id.to_owned(), new_credentials };
    match control::ask(&ctx.data_dir, adopt).await {
        Ok(_) | Err(ClientError::NotRunning) => {}
        Err(e) => eprintln!(
            "tokentray: the TokenTray that started meanwhile did not take this yet ({e}); it will from the files"
        ),
    }
}

/// An engine of this process, with what a crash left behind put right first.
pub(crate) async fn local_engine(ctx: &Context) -> Result<tokentray_runtime::Engine, CliError> {
    let engine = ctx.engine()?;
    engine.recover(false).await?;
    Ok(engine)
}

/// Renews where the provider can; for Kite and Upstox, whose tokens only a
/// login renews, asks the provider whether the token still works.
pub async fn refresh(global: &Global, id: &str) -> Result<ExitCode, CliError> {
    ask(global, id, Ask::Refresh).await
}

/// Asks the provider now: exit 0 valid, 4 log in, 1 could not tell (the token is kept).
pub async fn check(global: &Global, id: &str) -> Result<ExitCode, CliError> {
    ask(global, id, Ask::Check).await
}

/// The two questions `refresh` and `check` put to the provider.
#[derive(Clone, Copy)]
enum Ask {
    Refresh,
    Check,
}

/// Hands the question to the running TokenTray, or asks here, and reports.
async fn ask(global: &Global, id: &str, what: Ask) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    if let Some(route) = ctx.account_or_route(id)? {
        let call = match what {
            Ask::Refresh => AccountCall::Refresh,
            Ask::Check => AccountCall::Check,
        };
        if let Some(s) = remote_cmd::ask(&ctx, id, route, call).await? {
            report(id, &s);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let account = id.to_owned();
    let handed = match what {
        Ask::Refresh => handed_over(&ctx, call::Refresh { account }).await?,
        Ask::Check => handed_over(&ctx, call::Check { account }).await?,
    };
    let s = match handed {
        Some(s) => s,
        None => {
            let engine = local_engine(&ctx).await?;
            let s = match what {
                Ask::Refresh => engine.refresh_or_check(id).await?,
                Ask::Check => engine.check(id).await?,
            };
            announce(&ctx, id, false).await;
            s
        }
    };
    report(id, &s);
    Ok(ExitCode::SUCCESS)
}

fn report(id: &str, s: &AccountStatus) {
    let until = s.expires_at.map(|t| t.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %Z").to_string());
    match (s.auto_refresh, until) {
        (false, Some(until)) => eprintln!("{id}: still valid until {until} ({}; {})", s.level.as_str(), s.countdown),
        _ => eprintln!("{id}: {} ({}); {}", s.state.as_str(), s.level.as_str(), s.message),
    }
}

pub async fn logout(global: &Global, id: &str) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    if let Some(route) = ctx.account_or_route(id)? {
        remote_cmd::ask(&ctx, id, route, AccountCall::Logout).await?;
        eprintln!("{id}: logged out on its server");
        return Ok(ExitCode::SUCCESS);
    }
    if handed_over(&ctx, call::Logout { account: id.to_owned() }).await?.is_none() {
        local_engine(&ctx).await?.logout(id).await?;
        announce(&ctx, id, false).await;
    }
    eprintln!("{id}: logged out");
    Ok(ExitCode::SUCCESS)
}

/// The tokens to hand over: from the running TokenTray if there is one,
/// else here; a server's only where its `copy_token` lets it leave the server.
pub async fn fetch_token(ctx: &Context, id: &str) -> Result<HandedToken, CliError> {
    if let Some(route) = ctx.account_or_route(id)? {
        return remote_cmd::token(ctx, id, route).await;
    }
    match handed_over(ctx, call::Token { account: id.to_owned() }).await? {
        Some(handed) => Ok(handed),
        None => Ok(HandedToken::from(&local_engine(ctx).await?.current_token(id).await?)),
    }
}

pub async fn header(global: &Global, id: &str, with_name: bool) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    let account = ctx.account(id)?.clone();
    if account.describe().header.is_none() {
        let names: Vec<&str> = account.describe().env.iter().map(|(name, _)| *name).collect();
        return Err(CliError::Usage(format!(
            "{} signs every request instead of taking a header: give your script the values with `tokentray \
             exec {id} -- COMMAND` ({}) or a sink, and let its SDK sign",
            account.provider.display_name(),
            names.join(", ")
        )));
    }
    let token = fetch_token(&ctx, id).await?.access_token;
    let (name, value) = tokentray_adapters::provider::auth_header(account.provider, &account.api_key, &token)
        .expect("checked above: the provider takes a header");
    match with_name {
        true => println!("{name}: {value}"),
        false => println!("{value}"),
    }
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
    let token = fetch_token(&ctx, id).await?.access_token;
    println!("{}", token.expose());
    Ok(ExitCode::SUCCESS)
}

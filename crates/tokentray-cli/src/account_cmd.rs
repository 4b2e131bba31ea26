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
        // Only once the running TokenTray says it opened the browser is that what happens.
        let request = Request::Login { account: id.to_owned() };
        let answer = ipc::request_with_progress(&ctx.data_dir, &request, |message| {
            eprintln!("{id}: {message}; complete the login there");
        })
        .await;
        if let Some(status) = from_remote(answer)? {
            return logged_in(id, &status);
        }
    }
    let engine = ctx.engine()?;
    engine.recover(false).await?;
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
        // Pasted here, on standard input, with --no-browser.
        paste_from_window: false,
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
    from_remote(ipc::request(&ctx.data_dir, &request).await)
}

fn from_remote(answer: Option<Response>) -> Result<Option<AccountStatus>, CliError> {
    match answer {
        Some(Response::Status { account }) => Ok(Some(*account)),
        Some(Response::Error { message, remedy }) => Err(CliError::Remote { message, remedy }),
        _ => Ok(None),
    }
}

/// An engine of this process, with what a crash left behind put right first.
async fn local_engine(ctx: &Context) -> Result<tokentray_runtime::Engine, CliError> {
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
    ctx.account(id)?;
    let account = id.to_owned();
    let request = match what {
        Ask::Refresh => Request::Refresh { account },
        Ask::Check => Request::Check { account },
    };
    let s = match handed_over(&ctx, request).await? {
        Some(s) => s,
        None => {
            let engine = local_engine(&ctx).await?;
            match what {
                Ask::Refresh => engine.refresh_or_check(id).await?,
                Ask::Check => engine.check(id).await?,
            }
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
    ctx.account(id)?;
    match ipc::request(&ctx.data_dir, &Request::Logout { account: id.to_owned() }).await {
        Some(Response::Done { .. }) => {}
        Some(Response::Error { message, remedy }) => return Err(CliError::Remote { message, remedy }),
        _ => local_engine(&ctx).await?.logout(id).await?,
    }
    eprintln!("{id}: logged out");
    Ok(ExitCode::SUCCESS)
}

/// What a script is handed: the access token, and the feed token where the
/// provider has one (Angel One). Never the refresh token.
pub struct Handed {
    pub access_token: String,
    pub feed_token: Option<String>,
}

impl From<&tokentray_adapters::store::TokenSet> for Handed {
    fn from(t: &tokentray_adapters::store::TokenSet) -> Self {
        Self {
            access_token: t.access_token.expose().to_owned(),
            feed_token: t.feed_token.as_ref().map(|f| f.expose().to_owned()),
        }
    }
}

/// The tokens to hand over: from the running TokenTray if there is one, else here.
pub async fn fetch_token(ctx: &Context, id: &str) -> Result<Handed, CliError> {
    match ipc::request(&ctx.data_dir, &Request::Token { account: id.to_owned() }).await {
        Some(Response::Token { access_token, feed_token }) => Ok(Handed { access_token, feed_token }),
        Some(Response::Error { message, remedy }) => Err(CliError::Remote { message, remedy }),
        _ => Ok(Handed::from(&local_engine(ctx).await?.current_token(id).await?)),
    }
}

pub async fn header(global: &Global, id: &str, with_name: bool) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    let account = ctx.account(id)?.clone();
    let token = tokentray_adapters::Secret::new(fetch_token(&ctx, id).await?.access_token);
    let (name, value) = tokentray_adapters::provider::auth_header(account.provider, &account.api_key, &token);
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
    ctx.account(id)?;
    let token = fetch_token(&ctx, id).await?.access_token;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

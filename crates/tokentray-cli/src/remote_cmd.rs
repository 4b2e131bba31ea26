//! The commands for a server's account (`ACCOUNT@SERVER`, a `[[remote]]`'s)
//! and the server's end of the SSH session (`tokentray remote-serve`).
//! While a tray or daemon runs here, it follows the servers and the command
//! goes through it (its session is already open); otherwise the command
//! opens a session of its own for as long as it runs.

use crate::context::{CliError, Context};
use std::time::Duration;
use tokentray_runtime::control::{self, call, ClientError, HandedToken, LoginProgress};
use tokentray_runtime::remote::{self, AccountCall, Link, RemoteError, Route, ServerView};
use tokentray_runtime::{AccountStatus, Clock, SystemClock};
use tokio::sync::mpsc;

/// How long `status` waits for a server it asks itself.
const STATUS_WITHIN: Duration = Duration::from_secs(20);

impl From<RemoteError> for CliError {
    fn from(e: RemoteError) -> Self {
        Self::Server(e)
    }
}

/// `tokentray remote-serve`: a desktop's ssh runs it; it relays to this
/// machine's running TokenTray until the session ends.
pub async fn serve(global: &crate::cli::Global) -> Result<std::process::ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    match remote::serve_stdio(ctx.data_dir, ctx.config.ssh_access).await {
        Ok(()) => Ok(std::process::ExitCode::SUCCESS),
        Err(e) => Err(CliError::Usage(e.to_string())),
    }
}

/// A session of this command's own with the route's server.
async fn own_link(route: &Route) -> Result<Link, CliError> {
    Ok(Link::open(&route.remote).await?)
}

/// Logs in a server's account over a session of this command's own (no
/// tray or daemon runs here): the browser opens here, the redirect is
/// caught here (or pasted), the server makes and keeps the token.
pub async fn login_here(
    route: &Route,
    timeout: Duration,
    progress: impl FnMut(&LoginProgress),
    pasted: mpsc::Receiver<tokentray_adapters::Secret>,
) -> Result<AccountStatus, CliError> {
    let link = own_link(route).await?;
    let status = remote::log_in(&link, &route.account, timeout.as_secs().max(1), progress, pasted).await?;
    Ok(remote::shown_alone(&route.remote, status, SystemClock.now()))
}

/// Refresh, check or logout of a server's account.
pub async fn ask(ctx: &Context, id: &str, route: Route, what: AccountCall) -> Result<Option<AccountStatus>, CliError> {
    let account = id.to_owned();
    let handed = match what {
        AccountCall::Refresh => control::ask(&ctx.data_dir, call::Refresh { account }).await.map(Some),
        AccountCall::Check => control::ask(&ctx.data_dir, call::Check { account }).await.map(Some),
        AccountCall::Logout => control::ask(&ctx.data_dir, call::Logout { account }).await.map(|()| None),
    };
    match handed {
        Ok(status) => Ok(status),
        Err(ClientError::NotRunning) => Ok(remote::ask_account(&own_link(&route).await?, &route, what).await?),
        Err(e) => Err(CliError::Remote(e)),
    }
}

/// A server's account's token, where its `copy_token` lets it leave the server.
pub async fn token(ctx: &Context, id: &str, route: Route) -> Result<HandedToken, CliError> {
    route.token_allowed()?;
    match control::ask(&ctx.data_dir, call::Token { account: id.to_owned() }).await {
        Ok(handed) => Ok(handed),
        Err(ClientError::NotRunning) => Ok(remote::fetch_token(&own_link(&route).await?, &route).await?),
        Err(e) => Err(CliError::Remote(e)),
    }
}

/// Every server's accounts and how each server is reached: from the tray
/// or daemon here when one runs (it follows them), else asked now.
pub async fn statuses(ctx: &Context) -> (Vec<AccountStatus>, Vec<ServerView>) {
    if ctx.config.remotes.is_empty() {
        return (Vec::new(), Vec::new());
    }
    if let (Ok(all), Ok(servers)) =
        (control::ask(&ctx.data_dir, call::Status {}).await, control::ask(&ctx.data_dir, call::Servers {}).await)
    {
        return (all.into_iter().filter(|s| s.remote.is_some()).collect(), servers);
    }
    let asked = ctx.config.remotes.iter().map(|remote| async move {
        let now = SystemClock.now();
        let asked = tokio::time::timeout(STATUS_WITHIN, async {
            let link = Link::open(remote).await?;
            let accounts = link.ask(call::Status {}).await?;
            Ok::<_, RemoteError>((link.version.clone(), accounts))
        })
        .await;
        let mut view = ServerView::new(remote, None);
        match asked {
            Ok(Ok((version, accounts))) => {
                view.reachable = true;
                view.version = Some(version);
                let shown = accounts.into_iter().map(|a| remote::shown_alone(remote, a, now)).collect();
                (shown, view)
            }
            Ok(Err(e)) => {
                view.unreachable_since = Some(now);
                view.why = Some(e.to_string());
                (Vec::new(), view)
            }
            Err(_) => {
                view.unreachable_since = Some(now);
                view.why = Some(format!("no answer within {} s", STATUS_WITHIN.as_secs()));
                (Vec::new(), view)
            }
        }
    });
    let mut accounts = Vec::new();
    let mut servers = Vec::new();
    for (shown, view) in futures_util::future::join_all(asked).await {
        accounts.extend(shown);
        servers.push(view);
    }
    (accounts, servers)
}

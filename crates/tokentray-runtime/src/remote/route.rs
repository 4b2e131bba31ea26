//! A request about a server's account (`ACCOUNT@SERVER`), made on this
//! desktop: carried over the followed session, or a session of its own
//! when nothing here follows the server (a command run with no tray).

use super::error::RemoteError;
use super::link::Link;
use crate::control::{call, Call, HandedToken};
use crate::{AccountStatus, Engine};
use std::sync::Arc;
use tokentray_adapters::config::remote::RemoteConfig;

/// Where a request about a server's account goes.
pub struct Route {
    pub remote: RemoteConfig,
    /// The account's name on the server.
    pub account: String,
}

impl Route {
    /// `Some` when `id` names a server's account of `config`.
    pub fn of(config: &tokentray_adapters::config::Config, id: &str) -> Option<Self> {
        config.remote_account(id).map(|(remote, account)| Self { remote: remote.clone(), account: account.to_owned() })
    }

    /// Refuses a token the config keeps on the server.
    pub fn token_allowed(&self) -> Result<(), RemoteError> {
        match self.remote.copies_token(&self.account) {
            true => Ok(()),
            false => {
                Err(RemoteError::TokenStaysOnServer { server: self.remote.name.clone(), account: self.account.clone() })
            }
        }
    }
}

/// The calls that can be made about a server's account, with its name there.
pub enum AccountCall {
    Refresh,
    Check,
    Logout,
}

/// Asks `link` about `route`'s account; a status comes back as this desktop shows it.
pub async fn ask_account(link: &Link, route: &Route, what: AccountCall) -> Result<Option<AccountStatus>, RemoteError> {
    let account = route.account.clone();
    let status = match what {
        AccountCall::Refresh => link.ask(call::Refresh { account }).await?,
        AccountCall::Check => link.ask(call::Check { account }).await?,
        AccountCall::Logout => {
            link.ask(call::Logout { account }).await?;
            return Ok(None);
        }
    };
    Ok(Some(super::board::shown_alone(&route.remote, status, link.now())))
}

/// The account's token, where `copy_token` lets it leave the server.
pub async fn fetch_token(link: &Link, route: &Route) -> Result<HandedToken, RemoteError> {
    route.token_allowed()?;
    link.ask(call::Token { account: route.account.clone() }).await
}

/// A server's readiness, its accounts named as this desktop shows them.
pub async fn ready_there(
    link: &Link,
    server: &str,
    account: Option<String>,
) -> Result<Vec<crate::Readiness>, RemoteError> {
    let mut theirs = link.ask(call::Ready { account }).await?;
    // The server's words, shown here: plain text.
    let plain = super::wire::plain;
    for r in &mut theirs {
        r.account = format!("{}@{server}", plain(&r.account));
        r.label = format!("{} @ {server}", plain(&r.label));
        r.token.message = plain(&r.token.message);
        r.ip.message = plain(&r.ip.message);
        r.ip.change_lock = r.ip.change_lock.as_deref().map(plain);
        r.ip.egress = r.ip.egress.as_deref().map(plain);
        r.ip.registered = r.ip.registered.iter().map(|ip| plain(ip)).collect();
    }
    Ok(theirs)
}

impl Engine {
    /// The followed session with `route`'s server, or why there is none now.
    pub async fn server_link(&self, route: &Route) -> Result<Arc<Link>, RemoteError> {
        // A session still opening (the tray just started) is waited for, not refused.
        self.remotes()
            .link_when_up(&route.remote.name, super::link::HELLO_WITHIN)
            .await
            .map_err(|why| RemoteError::Unreachable { server: route.remote.name.clone(), why })
    }

    /// Readiness of `route`'s account, checked on its server (the machine the bots trade from).
    pub async fn ready_on_server(&self, route: &Route) -> Result<Vec<crate::Readiness>, RemoteError> {
        let link = self.server_link(route).await?;
        ready_there(&link, &route.remote.name, Some(route.account.clone())).await
    }

    /// This machine's accounts, then every followed server's (one that
    /// cannot be reached now is one entry, not ready, saying why).
    pub async fn ready_everywhere(&self) -> Result<Vec<crate::Readiness>, crate::EngineError> {
        let mut all = self.ready(None).await?;
        for server in self.remotes().servers() {
            let asked = match self.remotes().link_when_up(&server.name, super::link::HELLO_WITHIN).await {
                Ok(link) => ready_there(&link, &server.name, None).await.map_err(|e| e.to_string()),
                Err(why) => Err(why),
            };
            match asked {
                Ok(theirs) => all.extend(theirs),
                // Not ready as far as anyone here can tell: said, never left out.
                Err(why) => all.push(crate::Readiness::unreachable(&server.name, why)),
            }
        }
        Ok(all)
    }

    /// Readiness of `id` wherever it lives (a server's account on its
    /// server), or of every account here and on the followed servers.
    pub async fn ready_anywhere(&self, id: Option<&str>) -> Result<Vec<crate::Readiness>, crate::EngineError> {
        let route = id.and_then(|id| Route::of(&self.config(), id));
        match (id, route) {
            (_, Some(route)) => self.ready_on_server(&route).await.map_err(|e| crate::EngineError::Unavailable {
                account: id.unwrap_or_default().to_owned(),
                why: e.to_string(),
            }),
            (Some(id), None) => self.ready(Some(id)).await,
            (None, None) => self.ready_everywhere().await,
        }
    }

    /// Asks the followed server about one of its accounts: the reply, or why not.
    pub async fn ask_server<C: Call>(&self, route: &Route, request: C) -> Result<C::Reply, RemoteError> {
        self.server_link(route).await?.ask(request).await
    }
}

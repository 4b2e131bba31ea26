//! One-click login: open the authorize URL in the system browser, receive the
//! redirect on a loopback callback server (bound only while the login runs),
//! check `state`, take the code once, exchange it, store the token, and show
//! the browser a page that says how it went.

pub(crate) mod browser;
mod callback_server;
mod inbox;
mod options;
pub(crate) mod page;
mod tasks;
mod verdict;

pub use callback_server::callback_addrs;
pub use inbox::Pasted;
pub use options::{LoginOptions, LoginUrl};
pub use verdict::PasteOutcome;

use crate::{open_in_browser, AccountStatus, BrowserError, Engine, EngineError};
use axum::http::StatusCode;
use callback_server::CallbackServer;
use inbox::{Callback, Inbox};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tasks::{merge_pastes, watch};
use tokentray_adapters::callback_tls::CallbackCertificate;
use tokentray_adapters::config::AccountConfig;
use tokentray_adapters::provider::{CallbackError, Grant, ProviderClient};
use tokentray_adapters::Secret;
use tokentray_core::provider::LoginShape;
use tokentray_core::Event;
use tokio::sync::{mpsc, Notify};
use url::Url;
use verdict::Verdict;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Whether a login of `account` is received by a loopback server of
/// TokenTray's; otherwise the address the browser lands on is pasted.
pub fn served_on_loopback(account: &AccountConfig) -> bool {
    account.describe().login.redirects() && callback_addrs(&account.redirect_uri).is_some()
}

/// A completed login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub status: AccountStatus,
    /// From the callback's arrival to the token stored (exchange included).
    pub callback_to_stored: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("{account}: nobody completed the login within {}s; run `tokentray login {account}` again", .waited.as_secs())]
    TimedOut { account: String, waited: Duration },
    #[error("{0}: a newer login for this account replaced this one")]
    Replaced(String),
    #[error("{0}: the login was given up: whoever asked for it went away")]
    Abandoned(String),
    #[error("{account}: the login was refused ({reason}); nothing changed")]
    Denied { account: String, reason: String },
    #[error(
        "{account}: cannot listen for the callback on {addr} ({source}); is another program using the port? \
         Run `tokentray login {account} --no-browser` and paste the URL the browser lands on"
    )]
    Bind { account: String, addr: SocketAddr, source: std::io::Error },
    #[error(
        "{account}: the redirect_uri says localhost, but {addr} is taken ({source}); another program would \
         receive the login code there. Use http://127.0.0.1:PORT/... as the redirect_uri (here and in the \
         broker's app settings)"
    )]
    LocalhostTaken { account: String, addr: SocketAddr, source: std::io::Error },
    #[error(
        "{account}: redirect_uri {uri} is not a loopback http:// or https:// URL, so TokenTray cannot receive the callback; \
         run `tokentray login {account} --no-browser` and paste the URL the browser lands on"
    )]
    NotLoopback { account: String, uri: String },
    #[error("{0}")]
    Tls(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Browser(#[from] BrowserError),
}

impl LoginError {
    /// What fixes it: most login failures are fixed by trying again.
    pub fn remedy(&self) -> crate::Remedy {
        match self {
            Self::Engine(e) => e.remedy(),
            Self::Denied { .. } | Self::TimedOut { .. } | Self::Replaced(_) | Self::Abandoned(_) => {
                crate::Remedy::Login
            }
            Self::Bind { .. }
            | Self::LocalhostTaken { .. }
            | Self::NotLoopback { .. }
            | Self::Tls(_)
            | Self::Browser(_) => crate::Remedy::Other,
        }
    }
}

/// The first page an https login opens: on the callback's own origin, so
/// that the certificate the browser accepts there is the one the redirect meets.
pub fn start_page(redirect_uri: &Url) -> Url {
    let mut page = redirect_uri.clone();
    page.set_path(callback_server::START_PATH);
    page.set_query(None);
    page.set_fragment(None);
    page
}

impl Engine {
    /// Runs a login for `id` to the end: a new token stored, or an error that
    /// says what to do. A newer login for the same account replaces this one.
    pub async fn login(&self, id: &str, mut options: LoginOptions) -> Result<LoginOutcome, LoginError> {
        let client = self.client(id)?;
        // Before the browser opens: a login that cannot be exchanged would only add a refusal.
        self.guard_credentials(client.account(), crate::tokens::lockout::Use::Login)?;
        let secret = self.api_secret(client.account()).await?;
        let cancel = self.login_slot(id)?;
        // What no loopback server receives is pasted (or typed); a
        // gateway's page is watched instead.
        let window_takes_it = options.paste_from_window
            && !served_on_loopback(client.account())
            && client.account().describe().login != LoginShape::Watched;
        let from_window = match window_takes_it {
            true => {
                let (sender, receiver) = mpsc::channel(4);
                self.with_slot(id, |s| s.paste = Some(sender))?;
                // A window already open shows its paste field.
                self.publish(id, crate::EventKind::StatusChanged);
                Some(receiver)
            }
            false => None,
        };
        // The window's field and the terminal that asked for the login both
        // take it: whichever the user types into.
        let (pasted, _merging) = match (options.pasted.take(), from_window) {
            (Some(client), Some(window)) => {
                let (merged, merging) = merge_pastes(client, window);
                (Some(merged), Some(merging))
            }
            (one, other) => (one.or(other), None),
        };
        let mut server = None;
        // The inbox ends with `run_login`, before the server closes: a
        // callback still queued, or arriving now, is told the login is over.
        let result = self
            .run_login(
                &client,
                &secret,
                &options,
                &cancel,
                Inbox::new(pasted, client.account().describe().login.typed_field()),
                &mut server,
            )
            .await;
        // The browser gets its page before the server goes away.
        if let Some(server) = server {
            server.close().await;
        }
        self.end_login(id, &cancel);
        result
    }

    /// Opens the browser on the authorize URL, then takes callbacks until one
    /// carries this attempt's code, and finishes the login with it.
    async fn run_login(
        &self,
        client: &ProviderClient,
        secret: &Secret,
        options: &LoginOptions,
        cancel: &Arc<Notify>,
        mut inbox: Inbox,
        server: &mut Option<CallbackServer>,
    ) -> Result<LoginOutcome, LoginError> {
        let account = client.account();
        // Opened before the exchange, so the grant is on disk within a millisecond of its arrival.
        let journal = self.journal().await;
        // Dhan's login page exists only once the broker has made a consent for it.
        let attempt = client.begin_login(secret).await.map_err(|e| LoginError::Engine(e.into()))?;
        let https = account.redirect_uri.scheme() == "https";
        let loopback = callback_addrs(&account.redirect_uri);
        // Over plain http the browser's machine can catch the redirect; over
        // https (its certificate is this machine's) the address is pasted.
        let catch_at = match (options.relayed, &loopback, https) {
            (true, Some(_), false) => Some(account.redirect_uri.url().clone()),
            _ => None,
        };
        *server = match loopback.filter(|_| !options.relayed) {
            Some(addrs) => {
                let handover = self.lock_path(&format!("login-{}", account.id)).with_extension("handover");
                // Schwab redirects only to https: the callback is served over TLS with a certificate of our own.
                let certificate = match https {
                    true => Some(
                        CallbackCertificate::load_or_make(&self.data_dir().join("tls"))
                            .map_err(|e| LoginError::Tls(format!("cannot make the callback's certificate: {e}")))?,
                    ),
                    false => None,
                };
                let (sender, cancel) = (inbox.sender(), cancel.clone());
                Some(
                    CallbackServer::open(
                        account,
                        &addrs,
                        &handover,
                        certificate.as_ref(),
                        &attempt.url,
                        sender,
                        cancel,
                    )
                    .await?,
                )
            }
            None if inbox.takes_pasted_urls() => None,
            // The gateway's page is watched: nothing is received or pasted.
            None if account.describe().login == LoginShape::Watched => None,
            None => {
                return Err(LoginError::NotLoopback {
                    account: account.id.clone(),
                    uri: account.redirect_uri.to_string(),
                })
            }
        };
        // Over https the browser first warns about our certificate: on our page,
        // which says why, and not in the middle of the provider's redirect.
        let first = match (https, server.is_some()) {
            (true, true) => start_page(&account.redirect_uri),
            _ => attempt.url.clone(),
        };
        if options.open_browser {
            open_in_browser(first.as_str())?;
        }
        // A login on the broker's own gateway page is over when the gateway
        // says so: it is asked every second while the login runs.
        let watched = account.describe().login == LoginShape::Watched;
        let _watch = watched.then(|| watch(client.clone(), attempt.clone(), inbox.sender()));
        // Shown once the browser has it: "opened" is then true.
        let paste = server.is_none() && catch_at.is_none() && !watched;
        (options.show_url)(&LoginUrl { authorize: attempt.url.clone(), first, paste, catch_at });
        let deadline = tokio::time::Instant::now() + options.timeout;
        let abandoned = options.abandoned.as_deref();
        loop {
            let mut callback = inbox.next(&account.id, deadline, options.timeout, cancel, abandoned).await?;
            let arrived = Instant::now();
            let code = match client.read_callback(&callback.query, &attempt) {
                Ok(code) => code,
                Err(CallbackError::Denied(reason)) => {
                    callback.answer(Verdict::Denied(format!("The provider said: {reason}. Nothing changed.")));
                    return Err(LoginError::Denied { account: account.id.clone(), reason });
                }
                Err(e @ (CallbackError::StateMismatch | CallbackError::Missing(_))) => {
                    tracing::warn!(account = %account.id, "refused a login callback: {e}");
                    callback.answer(Verdict::Refused(format!("{e}. Start the login again from TokenTray.")));
                    continue;
                }
            };
            // A callback without `state` (Dhan's; Angel One's may lack it) can
            // come from anyone on this machine or any page in the browser: only
            // the exchange tells. Callbacks that come meanwhile wait their turn,
            // and a failed exchange leaves the login waiting for the real one.
            let unbound = !callback.query.contains_key("state");
            let exchange = client.exchange(&code, &attempt, secret, self.now());
            let exchanged = match unbound {
                true => exchange.await,
                // The code is spent: while it is exchanged, a replayed callback is told so.
                false => inbox.refusing_replays(exchange).await,
            };
            let grant = match exchanged {
                Ok(grant) => grant,
                Err(e) if unbound => {
                    tracing::warn!(account = %account.id, "refused a login callback: {e}");
                    callback.answer(Verdict::Refused(format!(
                        "{e}. If this was your login, start it again from TokenTray."
                    )));
                    continue;
                }
                Err(e) => {
                    let e = EngineError::from_provider(account, e);
                    self.count_if_rejected(&account.id, crate::tokens::lockout::Use::Login, &e).await;
                    callback.answer(Verdict::Failed {
                        status: StatusCode::BAD_GATEWAY,
                        title: "Login failed",
                        text: e.to_string(),
                    });
                    return Err(LoginError::Engine(e));
                }
            };
            self.journal_record(journal.as_deref(), &account.id, &grant, None);
            return self.finish_login(account, grant, arrived, callback).await;
        }
    }

    /// Stores the new grant, learns who logged in where the token response
    /// does not say, and tells the browser.
    async fn finish_login(
        &self,
        account: &AccountConfig,
        grant: Grant,
        arrived: Instant,
        mut callback: Callback,
    ) -> Result<LoginOutcome, LoginError> {
        let id = account.id.as_str();
        let user = grant.user.user_id.clone();
        let (token, expires_at) = (grant.tokens.access_token.clone(), grant.meta.expires_at);
        let stored = match crate::plumbing::file_lock::acquire(&self.lock_path(id), Duration::from_secs(60)).await {
            Ok(_lock) => self.install(id, grant, Event::LoggedIn).await,
            Err(e) => Err(e.into()),
        };
        let callback_to_stored = arrived.elapsed();
        if let Err(e) = stored {
            callback.answer(Verdict::Failed {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                title: "Login incomplete",
                text: format!("The token arrived but could not be saved: {e}"),
            });
            return Err(e.into());
        }
        tracing::info!(account = id, token = %token, expires_at = %expires_at, "logged in");
        // OAuth2 token responses do not say who logged in: the profile call does.
        let user = match user {
            Some(u) => Some(u),
            None if account.policy().validate_every.is_some() => self.validate(id).await.ok().and_then(|s| s.user_id),
            None => None,
        };
        let who = user.map(|u| format!(" as {u}")).unwrap_or_default();
        // Said now, not at the first renewal before the next market open.
        let pin_note = match self.pin_missing(id).await {
            true => {
                let note = format!("renewals need the PIN: store it with `tokentray secret set {id} --pin`");
                tracing::warn!(account = id, "{note}");
                format!(" Note: {note}.")
            }
            false => String::new(),
        };
        callback.answer(Verdict::LoggedIn(format!(
            "{} is logged in{who}. You can close this tab.{pin_note}",
            account.label
        )));
        self.credentials_worked(account, crate::tokens::lockout::Use::Login).await;
        Ok(LoginOutcome { status: self.status(id)?, callback_to_stored })
    }

    fn login_slot(&self, id: &str) -> Result<Arc<Notify>, EngineError> {
        let cancel = Arc::new(Notify::new());
        let previous = self.with_slot(id, |s| s.login.replace(cancel.clone()))?;
        if let Some(previous) = previous {
            previous.notify_one();
        }
        Ok(cancel)
    }

    fn end_login(&self, id: &str, mine: &Arc<Notify>) {
        let _ = self.with_slot(id, |s| {
            if s.login.as_ref().is_some_and(|l| Arc::ptr_eq(l, mine)) {
                s.login = None;
                s.paste = None;
            }
        });
    }

    /// Hands the address the browser landed on to the login of `id` that
    /// waits for it (the window's paste field). The login checks it as it
    /// checks any callback: a wrong or forged one is refused there. Returns
    /// how the login took it, for the window to say.
    pub async fn paste_redirect(&self, id: &str, url: String) -> Result<PasteOutcome, EngineError> {
        let waiting = || EngineError::NoLoginWaiting(id.to_owned());
        let sender = self.with_slot(id, |s| s.paste.clone())?.ok_or_else(waiting)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        sender.send(Pasted { line: url, reply: Some(reply) }).await.map_err(|_| waiting())?;
        // No answer: the login ended meanwhile (a newer one, a timeout).
        answer.await.map_err(|_| waiting())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokentray_adapters::config::Config;

    /// A callback that arrives while the login finishes (the token being
    /// stored) waits in the inbox; when the inbox ends, before the server
    /// closes, the browser is told the login is over instead of being cut off.
    #[tokio::test]
    async fn a_callback_still_queued_when_the_login_ends_gets_the_login_over_page() {
        let port = tokentray_testkit::free_port();
        let text = format!(
            "[[account]]\nid = \"a\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:{port}/cb\"\n"
        );
        let account = Config::parse(&text, std::path::Path::new("t.toml")).unwrap().accounts.remove(0);
        let addrs = callback_addrs(&account.redirect_uri).unwrap();
        let inbox = Inbox::new(None, None);
        let sender = inbox.sender();
        let handover = tokentray_testkit::scratch("login-handover").join("a.handover");
        let server = CallbackServer::open(
            &account,
            &addrs,
            &handover,
            None,
            &account.login_base,
            inbox.sender(),
            Arc::new(Notify::new()),
        )
        .await
        .unwrap();

        let late = tokio::spawn(reqwest::get(format!("http://127.0.0.1:{port}/cb?status=success")));
        tokentray_testkit::eventually("the callback queued", || sender.capacity() < sender.max_capacity()).await;
        drop((inbox, sender));
        let page = late.await.unwrap().unwrap();
        assert_eq!(page.status(), 410);
        assert!(page.text().await.unwrap().contains("This login has ended"));
        server.close().await;
    }
}

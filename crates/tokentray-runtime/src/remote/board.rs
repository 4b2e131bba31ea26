//! What this desktop knows of each server it follows: whether it can be
//! reached, since when not, and its accounts as it last said, shown under
//! `ACCOUNT@SERVER` beside this machine's own.

use super::wire::plain;
use crate::{AccountStatus, RemoteMark};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokentray_adapters::config::remote::RemoteConfig;
use tokentray_core::{format_countdown, Instant, Span, State};

/// A server, as the desktop shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerView {
    pub name: String,
    /// The SSH destination.
    pub ssh: String,
    /// Followed now.
    pub reachable: bool,
    /// Since when it cannot be reached; `None` while followed (or not yet tried).
    pub unreachable_since: Option<Instant>,
    /// Why it cannot be reached, in words with what to do.
    pub why: Option<String>,
    /// Its TokenTray's version, once it said hello.
    pub version: Option<String>,
}

impl ServerView {
    /// Not reached yet (`since`: what is shown dates from before this start).
    pub fn new(remote: &RemoteConfig, since: Option<Instant>) -> Self {
        Self {
            name: remote.name.clone(),
            ssh: remote.ssh.clone(),
            reachable: false,
            unreachable_since: since,
            why: None,
            version: None,
        }
    }
}

struct Server {
    config: RemoteConfig,
    view: ServerView,
    /// The accounts as the server last said, under their names there.
    accounts: Vec<AccountStatus>,
    link: Option<Arc<super::Link>>,
}

/// Every followed server. Cheap to clone.
#[derive(Clone, Default)]
pub struct Board {
    servers: Arc<Mutex<BTreeMap<String, Server>>>,
    /// Where the servers' accounts as last known are kept between runs
    /// (no token is in them): a desktop started while a server is down
    /// shows them unreachable, rather than nothing.
    cache: Option<std::path::PathBuf>,
    /// Bumped whenever a server is reached or lost, for whoever waits on one.
    moves: Arc<tokio::sync::Notify>,
}

/// The most a cache file is read: a few accounts' statuses.
const CACHE_MOST: u64 = 1024 * 1024;

impl Board {
    /// A board that keeps what it last knew in `data_dir`.
    pub(crate) fn kept_in(data_dir: &std::path::Path) -> Self {
        Self { cache: Some(data_dir.join("servers.json")), ..Self::default() }
    }

    fn cached(&self) -> BTreeMap<String, Vec<AccountStatus>> {
        let Some(path) = &self.cache else { return BTreeMap::new() };
        let text = tokentray_adapters::atomic::read_regular(path, CACHE_MOST).ok().flatten().unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_default()
    }

    /// What the cache holds: every server's accounts as last known.
    fn snapshot(servers: &BTreeMap<String, Server>) -> Vec<u8> {
        let known: BTreeMap<&String, &Vec<AccountStatus>> = servers.iter().map(|(n, s)| (n, &s.accounts)).collect();
        serde_json::to_vec(&known).expect("statuses serialize")
    }

    /// Writes it (outside the lock: a file write waits on the disk).
    fn keep(&self, text: &[u8]) {
        let Some(path) = &self.cache else { return };
        if let Err(e) = tokentray_adapters::atomic::write_private(path, text) {
            tracing::warn!("cannot keep the servers' accounts in {}: {e}", path.display());
        }
    }

    /// Starts over with `remotes` (the config's), keeping what is known of
    /// servers that stay as they were.
    pub(crate) fn configure(&self, remotes: &[RemoteConfig], now: Instant) {
        let mut cached = self.cached();
        let mut servers = self.lock();
        servers.retain(|name, s| remotes.iter().any(|r| &r.name == name && *r == s.config));
        for r in remotes {
            let known = cached.remove(&r.name).unwrap_or_default();
            // What was known before this start is not known now: grey until reached.
            let unreachable_since = (!known.is_empty()).then_some(now);
            servers.entry(r.name.clone()).or_insert_with(|| Server {
                config: r.clone(),
                view: ServerView::new(r, unreachable_since),
                accounts: known,
                link: None,
            });
        }
    }

    pub fn servers(&self) -> Vec<ServerView> {
        self.lock().values().map(|s| s.view.clone()).collect()
    }

    pub(crate) fn reached(&self, server: &str, link: Arc<super::Link>) {
        if let Some(s) = self.lock().get_mut(server) {
            s.view.version = Some(link.version.clone());
            s.view.reachable = true;
            s.view.unreachable_since = None;
            s.view.why = None;
            s.link = Some(link);
        }
        self.moves.notify_waiters();
    }

    /// The live session with `server`; while it is being opened for the
    /// first time (or again, since a failure), waits for that up to `limit`.
    /// `Err` with why not, once a try failed or the wait is over.
    pub(crate) async fn link_when_up(
        &self,
        server: &str,
        limit: std::time::Duration,
    ) -> Result<Arc<super::Link>, String> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let moved = self.moves.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            {
                let servers = self.lock();
                let Some(s) = servers.get(server) else { return Err("not followed here".to_owned()) };
                if let Some(link) = &s.link {
                    return Ok(link.clone());
                }
                if let Some(why) = &s.view.why {
                    return Err(why.clone());
                }
            }
            if tokio::time::timeout_at(deadline, moved).await.is_err() {
                return Err("not connected yet; try again in a moment".to_owned());
            }
        }
    }

    /// The server said what its accounts are now; the names whose status changed.
    pub(crate) fn accounts_are(&self, server: &str, accounts: Vec<AccountStatus>) -> Vec<String> {
        let mut servers = self.lock();
        let Some(s) = servers.get_mut(server) else { return Vec::new() };
        let changed: Vec<String> = accounts
            .iter()
            // What the tray shows: the state, the colour, and the countdown's end.
            .filter(|a| {
                !s.accounts.iter().any(|b| {
                    (&b.id, b.state, b.level, b.act_by, b.expires_at)
                        == (&a.id, a.state, a.level, a.act_by, a.expires_at)
                })
            })
            .map(|a| a.id.clone())
            .chain(s.accounts.iter().filter(|b| !accounts.iter().any(|a| a.id == b.id)).map(|b| b.id.clone()))
            .map(|id| format!("{id}@{server}"))
            .collect();
        s.accounts = accounts;
        let kept = (!changed.is_empty()).then(|| Self::snapshot(&servers));
        drop(servers);
        if let Some(text) = kept {
            self.keep(&text);
        }
        changed
    }

    /// The session ended or never began; the first failure's time is kept.
    pub(crate) fn lost(&self, server: &str, now: Instant, why: String) {
        if let Some(s) = self.lock().get_mut(server) {
            s.link = None;
            s.view.reachable = false;
            s.view.unreachable_since.get_or_insert(now);
            s.view.why = Some(plain(&why));
        }
        self.moves.notify_waiters();
    }

    /// Every server's account as this desktop shows it, at `now`.
    pub fn statuses(&self, now: Instant) -> Vec<AccountStatus> {
        let servers = self.lock();
        servers.values().flat_map(|s| s.accounts.iter().map(move |a| shown(s, a, now))).collect()
    }

    pub fn status(&self, id: &str, now: Instant) -> Option<AccountStatus> {
        self.statuses(now).into_iter().find(|a| a.id == id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Server>> {
        crate::plumbing::mutex::lock(&self.servers)
    }
}

/// A server's status as shown here at `now`, by a command that follows no
/// server (it asked just now: reachable).
pub fn shown_alone(remote: &RemoteConfig, status: AccountStatus, now: Instant) -> AccountStatus {
    let server =
        Server { config: remote.clone(), view: ServerView::new(remote, None), accounts: Vec::new(), link: None };
    shown(&server, &status, now)
}

/// One of a server's accounts as shown here: named `ACCOUNT@SERVER`, its
/// countdown run on from the server's act-by time, and while the server
/// cannot be reached, said so (grey), never "log in".
fn shown(server: &Server, account: &AccountStatus, now: Instant) -> AccountStatus {
    let mut a = account.clone();
    a.id = format!("{}@{}", plain(&account.id), server.view.name);
    a.label = format!("{} @ {}", plain(&account.label), server.view.name);
    a.message = plain(&account.message);
    a.countdown = plain(&account.countdown);
    a.last_error_message = account.last_error_message.as_deref().map(plain);
    for sink in &mut a.sinks {
        sink.path = plain(&sink.path);
        sink.error = sink.error.as_deref().map(plain);
    }
    a.user_id = account.user_id.as_deref().map(plain);
    a.user_name = account.user_name.as_deref().map(plain);
    if let (Some(act_by), State::Valid) = (a.act_by, a.state) {
        let left = act_by - now;
        a.remaining_seconds = Some(left.num_seconds());
        if !a.auto_refresh {
            a.countdown = if left <= Span::zero() { "expired".to_owned() } else { format_countdown(left) };
        }
    }
    a.remote = Some(RemoteMark {
        server: server.view.name.clone(),
        account: account.id.clone(),
        unreachable_since: server.view.unreachable_since,
        copy_token: server.config.copies_token(&account.id),
    });
    if let Some(since) = server.view.unreachable_since {
        let at = since.with_timezone(&chrono::Local).format("%H:%M");
        a.countdown = "unreachable".to_owned();
        a.message = match server.view.why {
            Some(_) => format!("server unreachable since {at}; last known: {}", plain(&account.message)),
            None => format!("connecting to the server; last known: {}", plain(&account.message)),
        };
    }
    a
}

//! Following the servers: one SSH session per server, kept open, with its
//! accounts' changes and notices coming as they happen; a session that ends
//! is opened again with backoff. A server that cannot be reached is shown
//! as that (grey, "unreachable since 09:02"), never as "log in": its own
//! daemon goes on keeping its tokens and sending its alerts.

use super::link::Link;
use crate::control::{call, Answer};
use crate::{AccountName, AccountStatus, Engine, EventKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokentray_adapters::config::remote::RemoteConfig;

/// The first wait after a session fails; doubled up to `LONGEST_WAIT`.
const FIRST_WAIT: Duration = Duration::from_secs(1);
const LONGEST_WAIT: Duration = Duration::from_secs(60);
/// A session that lasted this long starts the backoff over when it ends;
/// one that fails at once (no daemon there) keeps it growing.
const LASTED: Duration = Duration::from_secs(60);

/// The followers running, by server.
#[derive(Default)]
pub(crate) struct Followers {
    /// Whether this engine follows servers at all (the one serving the
    /// control channel does; a command's own engine does not).
    started: std::sync::atomic::AtomicBool,
    running: Mutex<HashMap<String, (RemoteConfig, tokio::task::JoinHandle<()>)>>,
}

impl Drop for Followers {
    fn drop(&mut self) {
        if let Ok(running) = self.running.lock() {
            for (_, task) in running.values() {
                task.abort();
            }
        }
    }
}

impl Engine {
    /// Follows every `[[remote]]` of the config (again, after a config
    /// change): a server whose table changed gets a new session.
    pub fn follow_servers(&self) {
        self.followers().started.store(true, std::sync::atomic::Ordering::Relaxed);
        let remotes = self.config().remotes;
        self.remotes().configure(&remotes, self.now());
        let mut running = crate::plumbing::mutex::lock(&self.followers().running);
        running.retain(|name, (config, task)| {
            let keep = remotes.iter().any(|r| &r.name == name && r == config);
            if !keep {
                task.abort();
            }
            keep
        });
        for remote in remotes {
            if running.contains_key(&remote.name) {
                continue;
            }
            let task = tokio::spawn(follow(self.clone(), remote.clone()));
            running.insert(remote.name.clone(), (remote, task));
        }
    }
}

impl Engine {
    /// After a config change: follows the servers again if this engine follows them.
    pub(crate) fn refollow_servers(&self) {
        if self.followers().started.load(std::sync::atomic::Ordering::Relaxed) {
            self.follow_servers();
        }
    }
}

async fn follow(engine: Engine, remote: RemoteConfig) {
    let board = engine.remotes().clone();
    let mut stopped = engine.stopped();
    let mut wait = FIRST_WAIT;
    loop {
        let why = match Link::open(&remote).await {
            Ok(link) => {
                let began = std::time::Instant::now();
                let why = tokio::select! {
                    why = run(&engine, &remote, Arc::new(link)) => why,
                    _ = stopped.changed() => return,
                };
                if began.elapsed() >= LASTED {
                    wait = FIRST_WAIT;
                }
                why
            }
            Err(e) => e.to_string(),
        };
        tracing::warn!(server = %remote.name, "server not followed: {why}");
        board.lost(&remote.name, engine.now(), why);
        publish_server(&engine, &remote.name);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => return,
        }
        wait = (wait * 2).min(LONGEST_WAIT);
    }
}

/// Follows one session until it ends; why it did. The server counts as
/// reached once it has said what its accounts are, not at its hello (a
/// server without its daemon says hello and nothing more).
async fn run(engine: &Engine, remote: &RemoteConfig, link: Arc<Link>) -> String {
    let mut reached = false;
    let mut told = Budget::default();
    let mut changes = match link.start(call::Subscribe { notices: true }.into()) {
        Ok(changes) => changes,
        Err(e) => return e.to_string(),
    };
    loop {
        let answer = tokio::select! {
            answer = changes.next::<()>() => answer,
            // The session ended while nothing was said.
            why = link.ended() => return why,
        };
        match answer {
            // The first line (subscribed) and every change: what the accounts are now.
            Ok(Answer::Changed(_)) => match link.ask(call::Status {}).await {
                Ok(accounts) => {
                    if !reached {
                        reached = true;
                        engine.remotes().reached(&remote.name, link.clone());
                    }
                    refreshed(engine, &remote.name, accounts);
                }
                Err(e) => return e.to_string(),
            },
            Ok(Answer::Noticed(n)) => {
                if !told.allows(engine.now()) {
                    tracing::warn!(server = %remote.name, "a notice dropped: more than {NOTICES_PER_MINUTE} a minute");
                    continue;
                }
                tell_from_server(engine, &remote.name, n);
            }
            Ok(Answer::Error(refusal)) => return refusal.message,
            Ok(_) => return "it answered a subscription with something else".to_owned(),
            Err(e) => return e.to_string(),
        }
    }
}

fn refreshed(engine: &Engine, server: &str, accounts: Vec<AccountStatus>) {
    let changed = engine.remotes().accounts_are(server, accounts);
    for id in changed {
        engine.publish_remote(&id, EventKind::StatusChanged);
    }
    // Reached again: every account of it shows differently (no longer grey).
    publish_server(engine, server);
}

/// Every account of `server` changed how it shows (reached, or lost).
fn publish_server(engine: &Engine, server: &str) {
    let now = engine.now();
    for status in engine.remotes().statuses(now) {
        if status.remote.as_ref().is_some_and(|r| r.server == server) {
            engine.publish_remote(&status.id, EventKind::StatusChanged);
        }
    }
    // A server with no account known yet still changed what status shows.
    engine.publish_remote("", EventKind::StatusChanged);
}

/// At most this many of a server's notices a minute reach the desktop: a
/// server gone wrong (or hostile) cannot bury it in notifications.
const NOTICES_PER_MINUTE: usize = 10;

#[derive(Default)]
struct Budget {
    sent: std::collections::VecDeque<tokentray_core::Instant>,
}

impl Budget {
    fn allows(&mut self, now: tokentray_core::Instant) -> bool {
        while self.sent.front().is_some_and(|t| now - *t >= tokentray_core::Span::minutes(1)) {
            self.sent.pop_front();
        }
        let room = self.sent.len() < NOTICES_PER_MINUTE;
        if room {
            self.sent.push_back(now);
        }
        room
    }
}

/// A server's notice, told here as the desktop's own are: named
/// `ACCOUNT@SERVER` in plain text (no markup, no control characters: the
/// server wrote them), and held back while the desktop is snoozed or quiet
/// unless a login is due now.
fn tell_from_server(engine: &Engine, server: &str, n: crate::control::NoticeLine) {
    use tokentray_core::NoticeKind;
    let plain = super::wire::plain;
    let urgent = matches!(
        n.notice.kind,
        NoticeKind::Red { .. } | NoticeKind::Expired | NoticeKind::TokenRejected | NoticeKind::LoginNeeded { .. }
    );
    if !urgent && engine.silenced_until().is_some() {
        tracing::info!(
            server,
            "a server's notice held by the snooze or quiet hours: {}",
            n.notice.summary(&plain(&n.label))
        );
        return;
    }
    let name =
        AccountName { id: format!("{}@{server}", plain(&n.account)), label: format!("{} @ {server}", plain(&n.label)) };
    engine.tell(&[(name, n.notice)]);
}

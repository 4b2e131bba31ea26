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
        self.remotes().configure(&remotes);
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
                let link = Arc::new(link);
                board.reached(&remote.name, link.clone());
                let why = run(&engine, &remote, &link).await;
                wait = FIRST_WAIT;
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

/// Follows one session until it ends; why it did.
async fn run(engine: &Engine, remote: &RemoteConfig, link: &Link) -> String {
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
                Ok(accounts) => refreshed(engine, &remote.name, accounts),
                Err(e) => return e.to_string(),
            },
            Ok(Answer::Noticed(n)) => {
                let name = AccountName {
                    id: format!("{}@{}", n.account, remote.name),
                    label: format!("{} @ {}", n.label, remote.name),
                };
                engine.tell(&[(name, n.notice)]);
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

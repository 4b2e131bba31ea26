//! The engine: every account's lifecycle plus the I/O that carries out its
//! decisions. Cheap to clone; all clones share one state.
//!
//! This room holds the engine's state and what every other room reaches it
//! through: the slots under one lock, the secret-store calls, the state
//! file, events, the scheduler, config changes and file watching. The
//! engine's own fields are private here; the other rooms (`tokens/`,
//! `shared/`, `login/`, `notices/`, `surfaces/`) use the accessors below,
//! and share the accounts' slots through `with_slot`. The engine's other
//! methods are in their rooms: `login` in `login/`, `refresh`, `check`,
//! `logout` and `current_token` in `tokens/`, `snooze` in `notices/`,
//! `account_views` and `save_account` in `surfaces/window_view.rs`.

mod error;
mod event_log;
mod events;
mod reconfigure;
mod scheduler;
mod slot;
mod status;
pub mod watch;

pub use error::{EngineError, Remedy};
pub use events::{EngineEvent, EventKind, Snapshot};
pub use slot::Counters;
pub(crate) use slot::{merge_user, Slot};
pub use status::{AccountStatus, RemoteMark, SinkStatus};

use crate::notices::alerts::Alerts;
use crate::notices::{Notifier, Silence};
use crate::plumbing::clock::Clock;
use crate::plumbing::drain::{Drain, WorkGuard};
use crate::plumbing::file_lock;
use crate::plumbing::mutex::lock;
use event_log::EventLog;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokentray_adapters::config::Config;
use tokentray_adapters::provider::{http_client, ProviderClient};
use tokentray_adapters::store::journal::GrantJournal;
use tokentray_adapters::store::state::{AccountState, StateFile};
use tokentray_adapters::store::{SecretStore, StorageKind};
use tokentray_adapters::Secret;
use tokio::sync::{broadcast, Notify, OnceCell};

/// Why a login is needed when the broker refused a token that should work.
pub(crate) const ENDED_BY_BROKER: &str = "the broker ended this token (a login elsewhere or a logout does that)";

/// What the engine is built from. Every edge is injected, so tests and the
/// demo use the real implementations with their own directories and clocks.
pub struct EngineOptions {
    pub data_dir: PathBuf,
    pub store: Arc<dyn SecretStore>,
    pub clock: Arc<dyn Clock>,
    pub notifier: Arc<dyn Notifier>,
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Arc<dyn Clock>,
    notifier: Arc<dyn Notifier>,
    store: Arc<dyn SecretStore>,
    data_dir: PathBuf,
    state_file: StateFile,
    config: Mutex<Config>,
    accounts: Mutex<BTreeMap<String, Slot>>,
    /// Wakes the scheduler when something changed its plans.
    wake: Notify,
    events: EventLog,
    /// Every notice told to the user, for subscribers that follow this engine from elsewhere.
    told: broadcast::Sender<crate::control::NoticeLine>,
    shutdown: tokio::sync::watch::Sender<bool>,
    /// One HTTP client for every account (rebuilt when the timeout changes).
    http: Mutex<reqwest::Client>,
    /// Read from the store once: the token endpoint checks it on every request.
    api_key: OnceCell<Secret>,
    /// Opened with its key from the store before the first provider call.
    journal: OnceCell<Arc<GrantJournal>>,
    /// Refreshes and writes in flight, which a stop waits for.
    work: Arc<Drain>,
    /// The one account this engine works for, if it works for one only (`exec`).
    focus: Mutex<Option<String>>,
    /// Where notices go besides the notifier (`[[alert]]`; rebuilt with the config).
    alerts: Mutex<Arc<Alerts>>,
    /// The snooze, and the notices quiet hours or the snooze hold.
    silence: Mutex<Silence>,
    /// The store several machines share, with `storage = "vault"`.
    shared: Option<crate::shared::Shared>,
    /// The servers this desktop follows (`[[remote]]`), and their followers.
    remotes: crate::remote::Board,
    followers: crate::remote::Followers,
}

/// Installation-wide secrets (the API key, the journal key) are filed under
/// `tokentray/`: accounts only file `<id>/api_secret` and `<id>/tokens`, so
/// no account can clash with them.
pub(crate) const INSTALLATION: &str = "tokentray";

/// How long a refresh waits for another process's refresh of the same account.
pub(crate) const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

impl Engine {
    /// Builds the engine from a config and the state file. Reads no secret:
    /// the keyring is first asked when a token is needed.
    pub fn new(config: Config, options: EngineOptions) -> Result<Self, EngineError> {
        // Tokens pass through it (the journal, the state, maybe the secrets): nobody else may look in.
        tokentray_adapters::atomic::ensure_private_dir(&options.data_dir)
            .map_err(|source| EngineError::DataDir { path: options.data_dir.clone(), source })?;
        let state_file = StateFile::in_dir(&options.data_dir);
        let state = state_file.load()?;
        let now = options.clock.now();
        let http = http_client(http_timeout(&config));
        let mut accounts = BTreeMap::new();
        for account in &config.accounts {
            let saved = state.accounts.get(&account.id).cloned().unwrap_or_default();
            let reminder = account.market.plan(&config.calendar).map(tokentray_core::Reminder::new);
            accounts.insert(account.id.clone(), Slot::restore(account.clone(), reminder, &http, &saved, now));
        }
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let alerts = Alerts::new(
            config.alerts.clone(),
            options.store.clone(),
            http.clone(),
            &options.data_dir,
            options.clock.clone(),
        );
        let shared = options.store.shared().map(crate::shared::Shared::new);
        let data_dir = options.data_dir.clone();
        Ok(Self {
            inner: Arc::new(Inner {
                clock: options.clock,
                notifier: options.notifier,
                store: options.store,
                data_dir: options.data_dir,
                state_file,
                config: Mutex::new(config),
                accounts: Mutex::new(accounts),
                wake: Notify::new(),
                events: EventLog::new(),
                told: broadcast::channel(64).0,
                shutdown,
                http: Mutex::new(http),
                api_key: OnceCell::new(),
                journal: OnceCell::new(),
                work: Arc::new(Drain::default()),
                focus: Mutex::new(None),
                alerts: Mutex::new(Arc::new(alerts)),
                silence: Mutex::new(Silence::snoozed_until(state.snoozed_until, now)),
                shared,
                remotes: crate::remote::Board::kept_in(&data_dir),
                followers: crate::remote::Followers::default(),
            }),
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    /// The notices told to the user from now on (a desktop following this server shows them).
    pub fn subscribe_notices(&self) -> broadcast::Receiver<crate::control::NoticeLine> {
        self.inner.told.subscribe()
    }

    pub(crate) fn told(&self) -> &broadcast::Sender<crate::control::NoticeLine> {
        &self.inner.told
    }

    pub fn config(&self) -> Config {
        lock(&self.inner.config).clone()
    }

    pub fn storage(&self) -> StorageKind {
        self.inner.store.kind()
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.inner.data_dir
    }

    pub fn now(&self) -> tokentray_core::Instant {
        self.inner.clock.now()
    }

    /// Asks the scheduler (if running) and every loop waiting on `stopped` to end.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        self.inner.wake.notify_one();
    }

    pub(crate) fn stopped(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    pub(crate) fn is_stopping(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Stops the engine: nothing new starts, and the refreshes and writes in
    /// flight finish (up to `limit`). Returns whether they all did.
    pub async fn stop(&self, limit: Duration) -> bool {
        self.shutdown();
        let started = std::time::Instant::now();
        let done = self.inner.work.wait(limit).await;
        // What the last work noticed still reaches the phone, within the limit.
        crate::notices::alerts::settle(limit.saturating_sub(started.elapsed())).await;
        done
    }

    /// Waits until the refreshes and writes in flight are done (up to `limit`).
    pub(crate) async fn work_finished(&self, limit: Duration) -> bool {
        self.inner.work.wait(limit).await
    }

    /// Has the scheduler work for `id` alone: `exec` shares its stderr with
    /// the child, which must not read about other accounts.
    pub fn focus(&self, id: &str) {
        *lock(&self.inner.focus) = Some(id.to_owned());
    }

    /// Has the scheduler look at the clock now (after a resume, say).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Every account: this machine's, then the followed servers'.
    pub fn statuses(&self) -> Vec<AccountStatus> {
        let now = self.now();
        let mut statuses: Vec<_> = self.slots().values().map(|s| s.status(now)).collect();
        statuses.extend(self.inner.remotes.statuses(now));
        statuses
    }

    pub fn status(&self, id: &str) -> Result<AccountStatus, EngineError> {
        let now = self.now();
        match self.with_slot(id, |s| s.status(now)) {
            Err(EngineError::UnknownAccount(_)) if id.contains('@') => {
                self.inner.remotes.status(id, now).ok_or_else(|| EngineError::UnknownAccount(id.to_owned()))
            }
            other => other,
        }
    }

    /// The HTTP client every call shares (its timeout is the config's).
    pub(crate) fn http(&self) -> reqwest::Client {
        lock(&self.inner.http).clone()
    }

    /// The servers this desktop follows, and their accounts as last known.
    pub fn remotes(&self) -> &crate::remote::Board {
        &self.inner.remotes
    }

    pub(crate) fn followers(&self) -> &crate::remote::Followers {
        &self.inner.followers
    }

    pub fn counters(&self, id: &str) -> Result<Counters, EngineError> {
        self.with_slot(id, |s| s.counters)
    }

    pub(crate) fn client(&self, id: &str) -> Result<ProviderClient, EngineError> {
        self.with_slot(id, |s| s.client.clone())
    }

    pub(crate) fn with_slot<R>(&self, id: &str, f: impl FnOnce(&mut Slot) -> R) -> Result<R, EngineError> {
        self.slots().get_mut(id).map(f).ok_or_else(|| EngineError::UnknownAccount(id.to_owned()))
    }

    pub(crate) fn slots(&self) -> MutexGuard<'_, BTreeMap<String, Slot>> {
        lock(&self.inner.accounts)
    }

    pub(crate) fn lock_path(&self, id: &str) -> PathBuf {
        self.inner.data_dir.join("locks").join(format!("{id}.lock"))
    }

    /// Runs a blocking secret-store call (D-Bus, a file) off the async threads.
    pub(crate) async fn store_call<R: Send + 'static>(
        &self,
        id: &str,
        f: impl FnOnce(&dyn SecretStore, &str) -> Result<R, tokentray_adapters::store::StoreError> + Send + 'static,
    ) -> Result<R, EngineError> {
        let store = self.inner.store.clone();
        let id = id.to_owned();
        match tokio::task::spawn_blocking(move || f(store.as_ref(), &id)).await {
            Ok(result) => result.map_err(EngineError::from),
            Err(e) => {
                Err(tokentray_adapters::store::StoreError::Refused(format!("the secret store call failed: {e}")).into())
            }
        }
    }

    /// Read-modify-write of one account's entry in the state file, under a
    /// lock shared with every other TokenTray process.
    pub(crate) async fn update_state(&self, id: &str, f: impl FnOnce(&mut AccountState)) -> Result<(), EngineError> {
        self.update_state_file(|state| f(state.accounts.entry(id.to_owned()).or_default())).await
    }

    /// The state file's read-modify-write, under its lock.
    pub(crate) async fn update_state_file(
        &self,
        f: impl FnOnce(&mut tokentray_adapters::store::state::State),
    ) -> Result<(), EngineError> {
        let _lock = file_lock::acquire(&self.inner.data_dir.join("locks").join("state.lock"), LOCK_TIMEOUT).await?;
        let mut state = self.state_file().load()?;
        f(&mut state);
        self.state_file().save(&state)?;
        Ok(())
    }

    /// Publishes a status change if the state or colour moved, and lets the
    /// scheduler re-plan.
    pub(crate) fn after_change(&self, id: &str) {
        let now = self.now();
        let changed = self
            .with_slot(id, |s| {
                let shown = (s.lifecycle.state(now), s.lifecycle.level(now));
                std::mem::replace(&mut s.shown, shown) != shown
            })
            .unwrap_or(false);
        if changed {
            self.publish(id, EventKind::StatusChanged);
        }
        self.inner.wake.notify_one();
    }

    /// A followed server's account changed (`id` is `ACCOUNT@SERVER`; empty: the server itself).
    pub(crate) fn publish_remote(&self, id: &str, kind: EventKind) {
        let now = self.now();
        let snapshot = self.inner.remotes.status(id, now).map(|st| Snapshot {
            state: st.state,
            level: st.level,
            expires_at: st.expires_at,
            act_by: st.act_by,
        });
        self.inner.events.publish(EngineEvent { id: 0, account: id.to_owned(), kind, at: now, snapshot });
    }

    pub(crate) fn publish(&self, id: &str, kind: EventKind) {
        let now = self.now();
        let snapshot = self.with_slot(id, |s| {
            let st = s.lifecycle.status(now);
            Snapshot { state: st.state, level: st.level, expires_at: st.expires_at, act_by: st.act_by }
        });
        self.inner.events.publish(EngineEvent {
            id: 0,
            account: id.to_owned(),
            kind,
            at: now,
            snapshot: snapshot.ok(),
        });
    }

    /// The recorded events after `after`, or `None` when some of them are no
    /// longer recorded (the client must re-read the state).
    pub fn events_since(&self, after: u64) -> Option<Vec<EngineEvent>> {
        self.inner.events.since(after)
    }
}

/// What the other rooms reach of the engine's state: each a narrow door.
impl Engine {
    /// Reads the config without copying it.
    pub(crate) fn with_config<R>(&self, f: impl FnOnce(&Config) -> R) -> R {
        f(&lock(&self.inner.config))
    }

    pub(crate) fn state_file(&self) -> &StateFile {
        &self.inner.state_file
    }

    /// Held while a refresh or a write runs: a stop waits for it.
    pub(crate) fn begin_work(&self) -> WorkGuard {
        self.inner.work.begin()
    }

    /// The one account this engine works for, if it works for one only.
    pub(crate) fn focused(&self) -> Option<String> {
        lock(&self.inner.focus).clone()
    }

    pub(crate) fn notifier(&self) -> &dyn Notifier {
        self.inner.notifier.as_ref()
    }

    pub(crate) fn alerts(&self) -> Arc<Alerts> {
        lock(&self.inner.alerts).clone()
    }

    pub(crate) fn silence(&self) -> MutexGuard<'_, Silence> {
        lock(&self.inner.silence)
    }

    pub(crate) fn shared(&self) -> Option<&crate::shared::Shared> {
        self.inner.shared.as_ref()
    }

    /// Where the grant journal is kept once opened (`tokens/install.rs` opens it).
    pub(crate) fn journal_cell(&self) -> &OnceCell<Arc<GrantJournal>> {
        &self.inner.journal
    }

    /// Where the local API's key is kept once read (`surfaces/api/key.rs` reads it).
    pub(crate) fn api_key_cell(&self) -> &OnceCell<Secret> {
        &self.inner.api_key
    }
}

pub(crate) fn http_timeout(config: &Config) -> Duration {
    config.http_timeout.to_std().unwrap_or(Duration::from_secs(15))
}

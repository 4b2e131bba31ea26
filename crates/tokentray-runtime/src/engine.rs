//! The engine: every account's lifecycle plus the I/O that carries out its
//! decisions. Cheap to clone; all clones share one state.
//!
//! This file holds the engine's state and the plumbing every part shares
//! (the slot lock, secret-store calls, state-file updates, publishing). The
//! parts are `impl Engine` blocks in files of their own: `tokens.rs`,
//! `refresh.rs`, `check.rs`, `install.rs`, `adopt.rs`, `logout.rs`,
//! `reconfigure.rs`, `scheduler.rs` (`tick`), `login/`, `recover.rs` and
//! `api/key.rs`.

use crate::alerts::message::AlertMessage;
use crate::alerts::{AlertOutcome, Alerts};
use crate::drain::Drain;
use crate::event_log::EventLog;
use crate::events::Snapshot;
use crate::lock;
use crate::slot::{Counters, Slot};
use crate::status::AccountStatus;
use crate::{Clock, EngineError, EngineEvent, EventKind, Notifier};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokentray_adapters::alert_config::AlertEvent;
use tokentray_adapters::config::Config;
use tokentray_adapters::provider::{http_client, ProviderClient};
use tokentray_adapters::store::journal::GrantJournal;
use tokentray_adapters::store::state::{AccountState, StateFile};
use tokentray_adapters::store::{SecretStore, StorageKind};
use tokentray_adapters::Secret;
use tokentray_core::{Action, NoticeKind};
use tokio::sync::{broadcast, Notify};

/// Why a login is needed when the broker refused a token that should work.
pub(crate) const ENDED_BY_BROKER: &str = "the broker ended this token (a login elsewhere or a logout does that)";

/// Locks `m`, also after a thread panicked while holding it: every critical
/// section here leaves the data whole, and one bad request must not take the
/// engine down for everyone.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

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
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub clock: Arc<dyn Clock>,
    pub notifier: Arc<dyn Notifier>,
    pub store: Arc<dyn SecretStore>,
    pub data_dir: PathBuf,
    pub state_file: StateFile,
    pub config: Mutex<Config>,
    pub accounts: Mutex<BTreeMap<String, Slot>>,
    /// Wakes the scheduler when something changed its plans.
    pub wake: Notify,
    pub events: EventLog,
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// One HTTP client for every account (rebuilt when the timeout changes).
    pub http: Mutex<reqwest::Client>,
    /// Read from the store once: the token endpoint checks it on every request.
    pub api_key: tokio::sync::OnceCell<Secret>,
    /// Opened with its key from the store before the first provider call.
    pub journal: tokio::sync::OnceCell<Arc<GrantJournal>>,
    /// Refreshes and writes in flight, which a stop waits for.
    pub work: Arc<Drain>,
    /// The one account this engine works for, if it works for one only (`exec`).
    pub focus: Mutex<Option<String>>,
    /// Where notices go besides the notifier (`[[alert]]`; rebuilt with the config).
    pub alerts: Mutex<Arc<Alerts>>,
    /// The snooze, and the notices quiet hours or the snooze hold.
    pub silence: Mutex<crate::silence::Silence>,
    /// The store several machines share, with `storage = "vault"`.
    pub shared: Option<crate::shared::Shared>,
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
        let alerts = Alerts::new(config.alerts.clone(), options.store.clone(), http.clone(), &options.data_dir);
        let shared = options.store.shared().map(crate::shared::Shared::new);
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
                shutdown,
                http: Mutex::new(http),
                api_key: tokio::sync::OnceCell::new(),
                journal: tokio::sync::OnceCell::new(),
                work: Arc::new(Drain::default()),
                focus: Mutex::new(None),
                alerts: Mutex::new(Arc::new(alerts)),
                silence: Mutex::new(crate::silence::Silence::snoozed_until(state.snoozed_until, now)),
                shared,
            }),
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
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
        crate::alerts::settle(limit.saturating_sub(started.elapsed())).await;
        done
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

    pub fn statuses(&self) -> Vec<AccountStatus> {
        let now = self.inner.clock.now();
        self.slots().values().map(|s| s.status(now)).collect()
    }

    pub fn status(&self, id: &str) -> Result<AccountStatus, EngineError> {
        let now = self.inner.clock.now();
        self.with_slot(id, |s| s.status(now))
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
        let _lock = lock::acquire(&self.inner.data_dir.join("locks").join("state.lock"), LOCK_TIMEOUT).await?;
        let mut state = self.inner.state_file.load()?;
        f(&mut state);
        self.inner.state_file.save(&state)?;
        Ok(())
    }

    pub(crate) fn dispatch(&self, id: &str, actions: Vec<Action>) {
        self.dispatch_all(vec![(id.to_owned(), actions)]);
    }

    /// The notices of several accounts that came due at one moment, told
    /// together (the notifier may merge them); each alert still gets its own.
    /// Quiet hours and a snooze hold what can wait (`silence.rs`).
    pub(crate) fn dispatch_all(&self, due: Vec<(String, Vec<Action>)>) {
        let now = self.inner.clock.now();
        let mut notices = Vec::new();
        // An engine focused on one account (`exec`) tells of nothing else.
        let focus = lock(&self.inner.focus).clone();
        for (id, actions) in due.into_iter().filter(|(id, _)| focus.as_ref().is_none_or(|f| f == id)) {
            let Ok(account) = self.with_slot(&id, |s| s.config.clone()) else { continue };
            for action in actions {
                if let Action::Notify(notice) = action {
                    if !self.held_back(&id, &notice, now) {
                        notices.push((account.clone(), notice));
                    }
                }
            }
        }
        self.deliver(notices);
    }

    /// Tells the user now: the notifier (which may merge them) and each alert.
    pub(crate) fn deliver(&self, notices: Vec<(tokentray_adapters::config::AccountConfig, tokentray_core::Notice)>) {
        for (account, notice) in &notices {
            self.alert(account, notice);
        }
        match notices.as_slice() {
            [] => {}
            [(account, notice)] => self.inner.notifier.notify(account, notice),
            _ => self.inner.notifier.notify_all(&notices),
        }
    }

    /// Sends `notice` to the alerts that want it, in the background.
    fn alert(&self, account: &tokentray_adapters::config::AccountConfig, notice: &tokentray_core::Notice) {
        let alerts = lock(&self.inner.alerts).clone();
        let Some(event) = AlertEvent::of(&notice.kind) else { return };
        if alerts.configs().is_empty() {
            return;
        }
        let Ok(status) = self.status(&account.id) else { return };
        let token_issued = self.with_slot(&account.id, |s| s.lifecycle.token().map(|m| m.issued_at)).ok().flatten();
        let now = self.inner.clock.now();
        // Reminders come every trading day, twice, whatever the token: each is its own event.
        let occasion = match notice.kind {
            NoticeKind::LoginBeforeOpen { .. } => format!("{} before the open", now.date_naive()),
            NoticeKind::MarketOpen => format!("{} at the open", now.date_naive()),
            _ => String::new(),
        };
        let message = AlertMessage {
            account: account.id.clone(),
            label: account.label.clone(),
            provider: account.provider.as_str().to_owned(),
            event,
            level: status.level,
            // A dead or rejected token's expiry is no moment to act by: now is.
            act_by: status.act_by.filter(|_| status.level != tokentray_core::Level::Expired),
            title: notice.summary(&account.label),
            message: notice.body(),
            at: now,
            test: false,
            token_issued,
            occasion,
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return tracing::warn!(account = %account.id, "no async runtime to send alerts from: not sent");
        }
        alerts.send(&message);
    }

    /// Sends a test message to every alert (or the one named), one try
    /// each; `None` when no alert has that name.
    pub async fn test_alerts(&self, name: Option<&str>) -> Option<Vec<AlertOutcome>> {
        let alerts = lock(&self.inner.alerts).clone();
        let message = AlertMessage {
            account: String::new(),
            label: "TokenTray".to_owned(),
            provider: String::new(),
            event: AlertEvent::Test,
            level: tokentray_core::Level::Green,
            act_by: None,
            title: "TokenTray: test alert".to_owned(),
            message: "A test from `tokentray alert test`: this alert reaches you. No account is in trouble.".to_owned(),
            at: self.inner.clock.now(),
            test: true,
            token_issued: None,
            occasion: String::new(),
        };
        alerts.test(name, &message).await
    }

    /// Every alert's last result, whichever process sent it.
    pub fn alert_outcomes(&self) -> Vec<AlertOutcome> {
        crate::alerts::outcomes(&self.inner.data_dir)
    }

    /// Publishes a status change if the state or colour moved, and lets the
    /// scheduler re-plan.
    pub(crate) fn after_change(&self, id: &str) {
        let now = self.inner.clock.now();
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

    pub(crate) fn publish(&self, id: &str, kind: EventKind) {
        let now = self.inner.clock.now();
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

pub(crate) fn http_timeout(config: &Config) -> Duration {
    config.http_timeout.to_std().unwrap_or(Duration::from_secs(15))
}

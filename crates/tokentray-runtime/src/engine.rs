//! The engine: every account's lifecycle plus the I/O that carries out its
//! decisions. Cheap to clone; all clones share one state.

use crate::drain::Drain;
use crate::events::Snapshot;
use crate::lock;
use crate::recent::RecentEvents;
use crate::status::{countdown_text, message, AccountStatus, SinkStatus};
use crate::{Clock, EngineError, EngineEvent, EventKind, Notifier};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokentray_core::{Action, ErrorClass, Event, Instant, Level, Lifecycle, Notice, NoticeKind, State};
use tokentray_adapters::config::{AccountConfig, Config};
use tokentray_adapters::provider::{http_client, Grant, ProviderClient, UserInfo};
use tokentray_adapters::store::journal::{GrantJournal, JournalEntry};
use tokentray_adapters::store::state::{AccountState, StateFile};
use tokentray_adapters::store::{SecretItem, SecretStore, StorageKind, TokenSet};
use tokentray_adapters::Secret;
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
    pub events: broadcast::Sender<EngineEvent>,
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// One HTTP client for every account (rebuilt when the timeout changes).
    pub http: Mutex<reqwest::Client>,
    /// The last events, for SSE clients that resume with `Last-Event-ID`.
    pub recent: Mutex<RecentEvents>,
    /// Read from the store once: the token endpoint checks it on every request.
    pub api_key: tokio::sync::OnceCell<Secret>,
    /// Opened with its key from the store before the first provider call.
    pub journal: tokio::sync::OnceCell<Arc<GrantJournal>>,
    /// Refreshes and writes in flight, which a stop waits for.
    pub work: Arc<Drain>,
    /// The one account this engine works for, if it works for one only (`exec`).
    pub focus: Mutex<Option<String>>,
}

/// Outcome counts, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub refresh_ok: u64,
    pub refresh_failed: u64,
    pub validation_ok: u64,
    pub validation_failed: u64,
}

pub(crate) struct Slot {
    pub config: AccountConfig,
    pub client: ProviderClient,
    pub lifecycle: Lifecycle,
    /// The secrets, once read: the keyring is asked once per process, not per use.
    pub tokens: Option<TokenSet>,
    pub user: UserInfo,
    pub last_error_message: Option<String>,
    /// Bumped whenever the token is replaced; single-flight refreshes compare it.
    pub generation: u64,
    /// One refresh at a time per account in this process.
    pub gate: Arc<tokio::sync::Mutex<()>>,
    /// What was last published, to publish only changes.
    pub shown: (State, Level),
    /// The login in progress; a newer login signals it to give up.
    pub login: Option<Arc<Notify>>,
    pub sinks: Vec<SinkStatus>,
    pub counters: Counters,
    /// A grant the secret store refused, served from memory and kept in the
    /// journal while the store write is retried.
    pub pending: Option<Grant>,
    /// Since when a grant waits to be saved (this process's, or another's per the state file).
    pub pending_since: Option<Instant>,
    /// One provider check at a time; reports that arrive meanwhile share it.
    pub check_gate: Arc<tokio::sync::Mutex<()>>,
    pub checks_done: u64,
    /// Why the last check could not tell (the provider unreachable), if it could not.
    pub last_check_unknown: Option<String>,
}

/// Installation-wide secrets (the API key, the journal key) are filed under
/// `tokentray/`: accounts only file `<id>/api_secret` and `<id>/tokens`, so
/// no account can clash with them.
pub(crate) const INSTALLATION: &str = "tokentray";

/// How long a refresh waits for another process's refresh of the same account.
const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

impl Engine {
    /// Builds the engine from a config and the state file. Reads no secret:
    /// the keyring is first asked when a token is needed.
    pub fn new(config: Config, options: EngineOptions) -> Result<Self, EngineError> {
        let state_file = StateFile::in_dir(&options.data_dir);
        let state = state_file.load()?;
        let now = options.clock.now();
        let http = http_client(timeout(&config));
        let mut accounts = BTreeMap::new();
        for account in &config.accounts {
            let saved = state.accounts.get(&account.id).cloned().unwrap_or_default();
            accounts.insert(account.id.clone(), Slot::restore(account.clone(), &http, &saved, now));
        }
        let (events, _) = broadcast::channel(256);
        let (shutdown, _) = tokio::sync::watch::channel(false);
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
                events,
                shutdown,
                http: Mutex::new(http),
                recent: Mutex::new(RecentEvents::default()),
                api_key: tokio::sync::OnceCell::new(),
                journal: tokio::sync::OnceCell::new(),
                work: Arc::new(Drain::default()),
                focus: Mutex::new(None),
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

    pub fn statuses(&self) -> Vec<AccountStatus> {
        let now = self.inner.clock.now();
        self.slots().values().map(|s| s.status(now)).collect()
    }

    pub fn status(&self, id: &str) -> Result<AccountStatus, EngineError> {
        let now = self.inner.clock.now();
        self.with_slot(id, |s| s.status(now))
    }

    /// The account's tokens, from memory or the secret store. Does not check
    /// expiry: callers decide from `status` whether the token is usable.
    pub async fn tokens(&self, id: &str) -> Result<TokenSet, EngineError> {
        if let Some(t) = self.with_slot(id, |s| s.tokens.clone())? {
            return Ok(t);
        }
        if self.with_slot(id, |s| s.lifecycle.token().is_none())? {
            return Err(EngineError::NoToken(id.to_owned()));
        }
        let tokens = self.store_call(id, |store, id| store.tokens(id)).await?;
        let tokens = tokens.ok_or_else(|| EngineError::NoToken(id.to_owned()))?;
        self.with_slot(id, |s| s.tokens = Some(tokens.clone()))?;
        Ok(tokens)
    }

    /// A token a script can use now: the stored one while it is valid, else a
    /// refreshed one where the provider allows it, else "log in". A token the
    /// broker rejected is never handed out. A script's call never spends a
    /// retry: while one is scheduled through an outage, it is told so at once.
    pub async fn current_token(&self, id: &str) -> Result<TokenSet, EngineError> {
        let now = self.inner.clock.now();
        // A refresh ahead of expiry is no reason to wait: the current token still works.
        let usable = |s: &AccountStatus| {
            s.state == State::Valid || (s.state == State::Refreshing && s.expires_at.is_some_and(|e| e > now))
        };
        let mut status = self.status(id)?;
        if !usable(&status) && status.auto_refresh {
            if status.retry_at.is_some_and(|at| at > now) || status.pending_save.is_some() {
                return Err(EngineError::Unavailable { account: id.to_owned(), why: status.message });
            }
            status = self.refresh(id).await?;
        }
        if !usable(&status) {
            let why = match status.state {
                State::NoToken => "not logged in".to_owned(),
                _ if status.last_error == Some(ErrorClass::TokenInvalid) => ENDED_BY_BROKER.to_owned(),
                State::Expired => match status.expires_at {
                    Some(at) => format!("the token expired at {}", at.with_timezone(&chrono::Local).format("%H:%M:%S")),
                    None => "the token expired".to_owned(),
                },
                _ => status.message,
            };
            return Err(EngineError::LoginNeeded { account: id.to_owned(), why });
        }
        self.tokens(id).await
    }

    /// Stores an account's api secret (from the window's form).
    pub async fn set_api_secret(&self, id: &str, secret: Secret) -> Result<(), EngineError> {
        self.store_call(id, move |store, id| store.set(id, SecretItem::ApiSecret, &secret)).await
    }

    pub(crate) async fn api_secret(&self, account: &AccountConfig) -> Result<Secret, EngineError> {
        let secret = self.store_call(&account.id, |store, id| store.get(id, SecretItem::ApiSecret)).await?;
        match secret {
            Some(s) => Ok(s),
            // A public OAuth2 client (PKCE, no secret) authenticates with its id alone.
            None if account.oauth2.as_ref().is_some_and(|o| o.pkce) => Ok(Secret::new("")),
            None => Err(EngineError::MissingSecret(account.id.clone())),
        }
    }

    /// Renews the token now. Concurrent calls for one account share one
    /// provider call, in this process (a gate) and across processes (a lock
    /// file); a caller that waited gets the token the other one stored.
    pub async fn refresh(&self, id: &str) -> Result<AccountStatus, EngineError> {
        if self.is_stopping() {
            return Err(EngineError::ShuttingDown);
        }
        let _work = self.inner.work.begin();
        let (gate, generation, client) = self.with_slot(id, |s| (s.gate.clone(), s.generation, s.client.clone()))?;
        let _gate = gate.lock().await;
        if self.with_slot(id, |s| s.generation)? != generation {
            return self.status(id);
        }
        match self.refresh_locked(id, &client).await {
            Ok(called_provider) => {
                if called_provider {
                    self.with_slot(id, |s| s.counters.refresh_ok += 1)?;
                }
                self.status(id)
            }
            Err(e) => {
                let _ = self.with_slot(id, |s| s.counters.refresh_failed += 1);
                let in_flight =
                    self.with_slot(id, |s| s.lifecycle.state(self.inner.clock.now()) == State::Refreshing)?;
                // Nothing the lifecycle did not know, unless it is waiting for this result.
                let failure = e.refresh_failure().or_else(|| in_flight.then_some(ErrorClass::TokenInvalid.into()));
                if let Some(failure) = failure {
                    self.record_failure(id, |now, out, lc| lc.handle(Event::RefreshFailed(failure), now, out), &e)
                        .await;
                }
                Err(e)
            }
        }
    }

    /// Renews where the provider can; elsewhere (Kite, Upstox) asks the
    /// provider whether the token still works, which is what "refresh" can
    /// mean for a token only a login renews.
    pub async fn refresh_or_check(&self, id: &str) -> Result<AccountStatus, EngineError> {
        if self.status(id)?.auto_refresh {
            self.refresh(id).await
        } else {
            self.check(id).await
        }
    }

    /// The refresh itself, under the cross-process lock: a token another
    /// process stored meanwhile is adopted instead, and a new token is stored
    /// before the lock is released, so a waiting process finds it.
    /// Returns whether the provider was called (not when a token was adopted).
    async fn refresh_locked(&self, id: &str, client: &ProviderClient) -> Result<bool, EngineError> {
        let _lock = lock::acquire(&self.lock_path(id), LOCK_TIMEOUT).await?;
        if self.adopt_from_disk(id).await? {
            return Ok(false);
        }
        // No new provider refresh while a grant waits to be saved: it would
        // spend the refresh token that only the waiting grant holds.
        if self.with_slot(id, |s| s.pending.is_some())? && !self.save_pending(id).await {
            let why = "the last new token is not saved yet (the secret store refuses it); retrying the save".to_owned();
            return Err(EngineError::Unavailable { account: id.to_owned(), why });
        }
        let now = self.inner.clock.now();
        let meta = self.with_slot(id, |s| s.lifecycle.token().copied())?;
        let meta = meta.ok_or_else(|| EngineError::NoToken(id.to_owned()))?;
        if !meta.can_refresh_at(now) {
            return Err(EngineError::NotRefreshable(id.to_owned()));
        }
        let tokens = self.tokens(id).await?;
        let secret = self.api_secret(client.account()).await?;
        // Opened before the call, so the grant is on disk within a millisecond of its arrival.
        let journal = self.journal().await;
        let grant = client.refresh(&tokens, &meta, &secret, now).await?;
        self.journal_record(journal.as_deref(), id, &grant);
        let (token, expires_at) = (grant.tokens.access_token.clone(), grant.meta.expires_at);
        self.install(id, grant, Event::Refreshed).await?;
        // Logged once the new token is the one served, so the line means "in use".
        tracing::info!(account = id, token = %token, expires_at = %expires_at, "refreshed");
        Ok(true)
    }

    /// Checks the token with the provider's profile call.
    pub async fn validate(&self, id: &str) -> Result<AccountStatus, EngineError> {
        let client = self.with_slot(id, |s| s.client.clone())?;
        let outcome = async {
            let tokens = self.tokens(id).await?;
            Ok::<_, EngineError>(client.validate(&tokens).await?)
        }
        .await;
        match outcome {
            Ok(user) => {
                let now = self.inner.clock.now();
                let mut notices = Vec::new();
                self.with_slot(id, |s| {
                    s.counters.validation_ok += 1;
                    s.lifecycle.handle(Event::Validated, now, &mut notices);
                    s.user = merge_user(&s.user, user.clone());
                    s.last_error_message = None;
                })?;
                self.dispatch(id, notices);
                let standing = self.with_slot(id, |s| s.lifecycle.standing())?;
                self.update_state(id, |st| {
                    st.last_validated = Some(now);
                    st.standing = standing;
                    st.last_error_message = None;
                    st.user_id = st.user_id.take().or(user.user_id);
                    st.user_name = st.user_name.take().or(user.user_name);
                })
                .await?;
                self.after_change(id);
                self.status(id)
            }
            Err(e) => {
                let class = match &e {
                    EngineError::NoToken(_) => ErrorClass::TokenInvalid,
                    other => other.class().unwrap_or(ErrorClass::Transient),
                };
                let failure = match &e {
                    EngineError::Provider(p) => p.failure(),
                    _ => class.into(),
                };
                let _ = self.with_slot(id, |s| s.counters.validation_failed += 1);
                self.record_failure(id, |now, out, lc| lc.handle(Event::ValidationFailed(failure), now, out), &e).await;
                Err(e)
            }
        }
    }

    /// Logs out at the provider where it can, and forgets the token here.
    /// The local logout happens even when the provider cannot be reached.
    pub async fn logout(&self, id: &str) -> Result<(), EngineError> {
        let client = self.with_slot(id, |s| s.client.clone())?;
        if let Ok(tokens) = self.tokens(id).await {
            let secret = self.api_secret(client.account()).await.ok();
            if let Err(e) = client.logout(&tokens, secret.as_ref()).await {
                tracing::warn!(account = id, "the provider logout failed ({e}); forgetting the token here anyway");
            }
        }
        self.store_call(id, |store, id| store.delete(id, SecretItem::Tokens)).await?;
        if let Some(journal) = self.inner.journal.get() {
            journal.clear(id)?;
        }
        let now = self.inner.clock.now();
        self.with_slot(id, |s| {
            s.lifecycle.handle(Event::LoggedOut, now, &mut Vec::new());
            s.tokens = None;
            s.pending = None;
            s.pending_since = None;
            s.generation += 1;
        })?;
        self.update_state(id, |st| *st = AccountState::default()).await?;
        self.publish(id, EventKind::LoggedOut);
        self.after_change(id);
        Ok(())
    }

    /// Stores a new grant and tells everyone, in this order: the secret
    /// store, the state file (which only ever describes the stored token),
    /// the sinks, then the event. The caller has made the grant durable in
    /// the journal already. If the store refuses it, this process keeps
    /// serving the grant, the journal keeps it, and the save is retried.
    pub(crate) async fn install(
        &self,
        id: &str,
        grant: Grant,
        event: fn(tokentray_core::TokenMeta) -> Event,
    ) -> Result<(), EngineError> {
        let _work = self.inner.work.begin();
        let tokens = grant.tokens.clone();
        let saved = self.store_call(id, move |store, id| store.set_tokens(id, &tokens)).await;
        let now = self.inner.clock.now();
        let mut notices = Vec::new();
        let user = self.with_slot(id, |s| {
            // Even if the store refused, this process serves the new token:
            // the old one may already be dead (a rotated refresh token).
            s.tokens = Some(grant.tokens.clone());
            s.lifecycle.handle(event(grant.meta), now, &mut notices);
            s.user = merge_user(&s.user, grant.user.clone());
            s.last_error_message = None;
            s.generation += 1;
            match &saved {
                Ok(()) => {
                    s.pending = None;
                    s.pending_since = None;
                }
                Err(_) => {
                    s.pending = Some(grant.clone());
                    s.pending_since = Some(now);
                }
            }
            s.user.clone()
        })?;
        self.dispatch(id, notices);
        match &saved {
            Ok(()) => {
                self.record_stored(id, &grant, user).await?;
            }
            Err(e) => {
                tracing::error!(account = id, "the secret store refused the new token ({e}); serving it from memory, it is kept in the journal, and the save is retried");
                self.dispatch(id, vec![Action::Notify(Notice { kind: NoticeKind::NotSaved })]);
                self.update_state(id, |st| {
                    st.pending_save = Some(now);
                    st.last_error_message = Some(format!("the new token could not be saved: {e}"));
                })
                .await?;
                self.spawn_save_retries(id);
            }
        }
        self.write_sinks(id).await;
        self.publish(id, EventKind::TokenChanged);
        self.after_change(id);
        Ok(())
    }

    /// The grant is in the secret store: the state file describes it, and
    /// its journal record is no longer needed.
    async fn record_stored(&self, id: &str, grant: &Grant, user: UserInfo) -> Result<(), EngineError> {
        let now = self.inner.clock.now();
        let standing = self.with_slot(id, |s| s.lifecycle.standing())?;
        self.update_state(id, |st| {
            st.token = Some(grant.meta);
            st.user_id = user.user_id;
            st.user_name = user.user_name;
            st.last_validated = Some(now);
            st.standing = standing;
            st.last_error_message = None;
            st.pending_save = None;
        })
        .await?;
        if let Some(journal) = self.inner.journal.get() {
            journal.clear(id)?;
        }
        Ok(())
    }

    /// Tries once to save the grant the store refused; returns whether it is saved now.
    pub(crate) async fn save_pending(&self, id: &str) -> bool {
        let Ok(Some((grant, generation))) = self.with_slot(id, |s| s.pending.clone().map(|g| (g, s.generation))) else {
            return true;
        };
        let tokens = grant.tokens.clone();
        if let Err(e) = self.store_call(id, move |store, id| store.set_tokens(id, &tokens)).await {
            tracing::warn!(account = id, "the new token still cannot be saved: {e}");
            return false;
        }
        let user = self.with_slot(id, |s| {
            if s.generation == generation {
                s.pending = None;
                s.pending_since = None;
            }
            s.user.clone()
        });
        let Ok(user) = user else { return false };
        if let Err(e) = self.record_stored(id, &grant, user).await {
            tracing::warn!(account = id, "the new token is saved, but the state file is not updated: {e}");
        }
        tracing::info!(account = id, "the new token is saved now");
        self.publish(id, EventKind::StatusChanged);
        self.after_change(id);
        true
    }

    /// Retries saving a refused grant with backoff (1 s doubling to a
    /// minute) until it is saved, replaced, or the engine stops.
    fn spawn_save_retries(&self, id: &str) {
        let engine = self.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            let mut wait = Duration::from_secs(1);
            let mut stopped = engine.stopped();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
                if engine.with_slot(&id, |s| s.pending.is_none()).unwrap_or(true) || engine.save_pending(&id).await {
                    return;
                }
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        });
    }

    /// The journal, opened with its key from the secret store (made on first
    /// use). `None`, with a warning, when the store cannot give the key: the
    /// grant then goes straight to the store, as before the journal existed.
    pub(crate) async fn journal(&self) -> Option<Arc<GrantJournal>> {
        let opened = self
            .inner
            .journal
            .get_or_try_init(|| async {
                let key = self
                    .store_call(crate::engine::INSTALLATION, |store, owner| {
                        if let Some(key) = store.get(owner, SecretItem::JournalKey)? {
                            return Ok(key);
                        }
                        let key = GrantJournal::new_key();
                        store.set(owner, SecretItem::JournalKey, &key)?;
                        Ok(key)
                    })
                    .await?;
                Ok::<_, EngineError>(Arc::new(GrantJournal::open(self.inner.data_dir.join("journal"), &key)?))
            })
            .await;
        match opened {
            Ok(j) => Some(j.clone()),
            Err(e) => {
                tracing::warn!("the grant journal is not available ({e}); new tokens go straight to the secret store");
                None
            }
        }
    }

    /// Makes a grant durable before anything else happens to it. Runs on the
    /// calling thread on purpose: a hop to a blocking thread would widen the
    /// window in which a kill loses a rotated refresh token.
    pub(crate) fn journal_record(&self, journal: Option<&GrantJournal>, id: &str, grant: &Grant) {
        let Some(journal) = journal else { return };
        let entry = JournalEntry {
            tokens: grant.tokens.clone(),
            meta: grant.meta,
            user_id: grant.user.user_id.clone(),
            user_name: grant.user.user_name.clone(),
        };
        if let Err(e) = journal.record(id, &entry) {
            tracing::warn!(account = id, "cannot write the grant journal ({e}); storing the token directly");
        }
    }

    /// Writes the new token to every sink of the account; one failing sink
    /// does not stop the others, and each result shows in the status.
    pub(crate) async fn write_sinks(&self, id: &str) {
        let Ok((account, tokens, user, expires_at)) = self.with_slot(id, |s| {
            (s.config.clone(), s.tokens.clone(), s.user.user_id.clone(), s.lifecycle.token().map(|m| m.expires_at))
        }) else {
            return;
        };
        let Some(tokens) = tokens.filter(|_| !account.sinks.is_empty()) else { return };
        let now = self.inner.clock.now();
        let results = tokio::task::spawn_blocking(move || {
            let values = tokentray_adapters::sinks::SinkValues {
                account: &account.id,
                access_token: &tokens.access_token,
                api_key: &account.api_key,
                user_id: user.as_deref(),
                expires_at,
            };
            account
                .sinks
                .iter()
                .map(|sink| {
                    let result = tokentray_adapters::sinks::write(sink, &values);
                    if let Err(e) = &result {
                        tracing::warn!(account = %account.id, "{e}");
                    }
                    SinkStatus {
                        path: sink.path.display().to_string(),
                        format: sink.format,
                        ok: result.is_ok(),
                        error: result.err().map(|e| e.message),
                        written_at: Some(now),
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let _ = self.with_slot(id, |s| s.sinks = results.clone());
        if let Err(e) = self.update_state(id, |st| st.sinks = results).await {
            tracing::warn!(account = id, "cannot record the sinks' results in the state file: {e}");
        }
    }

    /// Takes a token that another process stored, if it is newer than ours.
    pub async fn adopt_from_disk(&self, id: &str) -> Result<bool, EngineError> {
        let saved = self.inner.state_file.load()?.accounts.remove(id).unwrap_or_default();
        self.adopt(id, saved).await
    }

    /// Reads the state file once and adopts every account's newer token.
    pub async fn adopt_all_from_disk(&self) -> Result<(), EngineError> {
        let mut state = self.inner.state_file.load()?;
        let ids: Vec<String> = self.slots().keys().cloned().collect();
        for id in ids {
            if let Some(saved) = state.accounts.remove(&id) {
                self.adopt(&id, saved).await?;
            }
        }
        Ok(())
    }

    async fn adopt(&self, id: &str, saved: AccountState) -> Result<bool, EngineError> {
        let ours = self.with_slot(id, |s| (s.lifecycle.token().copied(), s.lifecycle.standing()))?;
        let Some(meta) = saved.token else { return Ok(false) };
        if ours.0.is_some_and(|t| t.issued_at >= meta.issued_at) {
            // The same token: take what another process learnt about it.
            if ours.0 == Some(meta) {
                self.adopt_standing(id, &saved, ours.1).await?;
            }
            return Ok(false);
        }
        let Some(tokens) = self.store_call(id, |store, id| store.tokens(id)).await? else { return Ok(false) };
        let now = self.inner.clock.now();
        self.with_slot(id, |s| {
            s.tokens = Some(tokens);
            let restored = Event::Restored { meta, validated_at: saved.last_validated, standing: saved.standing };
            s.lifecycle.handle(restored, now, &mut Vec::new());
            s.user = UserInfo { user_id: saved.user_id.clone(), user_name: saved.user_name.clone() };
            s.last_error_message = saved.last_error_message.clone();
            s.pending = None;
            s.pending_since = saved.pending_save;
            s.sinks = saved.sinks.clone();
            s.generation += 1;
        })?;
        tracing::info!(account = id, "picked up the token another TokenTray process stored");
        self.publish(id, EventKind::TokenChanged);
        self.after_change(id);
        Ok(true)
    }

    /// A rejection another process learnt (a `check` from the CLI) holds here too.
    async fn adopt_standing(
        &self,
        id: &str,
        saved: &AccountState,
        ours: tokentray_core::Standing,
    ) -> Result<(), EngineError> {
        self.with_slot(id, |s| {
            s.sinks = saved.sinks.clone();
            if s.pending.is_none() {
                s.pending_since = saved.pending_save;
            }
        })?;
        let theirs = saved.standing;
        let event = if theirs.access_rejected && !ours.access_rejected {
            Event::ValidationFailed(ErrorClass::TokenInvalid.into())
        } else if theirs.refresh_rejected && !ours.refresh_rejected {
            Event::RefreshFailed(theirs.last_error.unwrap_or(ErrorClass::TokenInvalid).into())
        } else {
            return Ok(());
        };
        let message = saved.last_error_message.clone();
        let now = self.inner.clock.now();
        let mut notices = Vec::new();
        self.with_slot(id, |s| {
            s.lifecycle.handle(event, now, &mut notices);
            s.last_error_message = message;
        })?;
        self.dispatch(id, notices);
        if theirs.access_rejected && !ours.access_rejected {
            self.publish(id, EventKind::TokenInvalid);
        }
        self.after_change(id);
        Ok(())
    }

    /// Applies a new config: new accounts start, removed ones stop (their
    /// secrets stay in the keyring), changed ones keep their token.
    pub fn apply_config(&self, config: Config) {
        let now = self.inner.clock.now();
        let saved = self.inner.state_file.load().unwrap_or_default();
        let timeout_changed = config.http_timeout != self.config().http_timeout;
        let http = {
            let mut http = lock(&self.inner.http);
            if timeout_changed {
                *http = http_client(timeout(&config));
            }
            http.clone()
        };
        {
            let mut slots = self.slots();
            slots.retain(|id, _| config.account(id).is_some());
            for account in &config.accounts {
                match slots.get_mut(&account.id) {
                    Some(slot) if slot.config == *account && !timeout_changed => {}
                    Some(slot) => {
                        slot.client = ProviderClient::new(account.clone(), http.clone());
                        slot.lifecycle.set_policy(account.policy(), now);
                        slot.config = account.clone();
                    }
                    None => {
                        let st = saved.accounts.get(&account.id).cloned().unwrap_or_default();
                        slots.insert(account.id.clone(), Slot::restore(account.clone(), &http, &st, now));
                    }
                }
            }
        }
        *lock(&self.inner.config) = config;
        self.publish("", EventKind::ConfigReloaded);
        self.inner.wake.notify_one();
    }

    /// Runs what the lifecycles say is due now; returns the earliest next wake.
    pub(crate) fn tick(&self) -> Option<tokentray_core::Instant> {
        let now = self.inner.clock.now();
        let mut due = Vec::new();
        let mut wake: Option<tokentray_core::Instant> = None;
        let focus = lock(&self.inner.focus).clone();
        {
            let mut slots = self.slots();
            for (id, slot) in slots.iter_mut().filter(|(id, _)| focus.as_ref().is_none_or(|f| f == *id)) {
                let mut out = Vec::new();
                slot.lifecycle.poll(now, &mut out);
                if !out.is_empty() {
                    due.push((id.clone(), out));
                }
                if let Some(w) = slot.lifecycle.next_wake(now) {
                    wake = Some(wake.map_or(w, |x| x.min(w)));
                }
            }
        }
        for (id, actions) in due {
            let mut notices = Vec::new();
            for action in actions {
                match action {
                    Action::Refresh => {
                        let engine = self.clone();
                        let id = id.clone();
                        tokio::spawn(async move {
                            if let Err(e) = engine.refresh(&id).await {
                                tracing::warn!(account = %id, "refresh failed: {e}");
                            }
                        });
                    }
                    Action::Validate => {
                        let engine = self.clone();
                        let id = id.clone();
                        tokio::spawn(async move {
                            if let Err(e) = engine.validate(&id).await {
                                tracing::warn!(account = %id, "validation failed: {e}");
                            }
                        });
                    }
                    notice @ Action::Notify(_) => notices.push(notice),
                }
            }
            self.dispatch(&id, notices);
            self.after_change(&id);
        }
        wake
    }

    async fn record_failure(
        &self,
        id: &str,
        apply: impl FnOnce(tokentray_core::Instant, &mut Vec<Action>, &mut Lifecycle),
        error: &EngineError,
    ) {
        let now = self.inner.clock.now();
        let mut notices = Vec::new();
        let message = error.to_string();
        let outcome = self.with_slot(id, |s| {
            let was_rejected = s.lifecycle.standing().access_rejected;
            apply(now, &mut notices, &mut s.lifecycle);
            s.last_error_message = Some(message.clone());
            (was_rejected, s.lifecycle.standing())
        });
        let Ok((was_rejected, standing)) = outcome else { return };
        self.dispatch(id, notices);
        if standing.access_rejected && !was_rejected {
            tracing::warn!(account = id, "{ENDED_BY_BROKER}");
            self.publish(id, EventKind::TokenInvalid);
        }
        let saved = self
            .update_state(id, |st| {
                st.standing = standing;
                st.last_error_message = Some(message);
            })
            .await;
        if let Err(e) = saved {
            tracing::warn!(account = id, "cannot record the failure in the state file: {e}");
        }
        self.after_change(id);
    }

    fn dispatch(&self, id: &str, actions: Vec<Action>) {
        let Ok(account) = self.with_slot(id, |s| s.config.clone()) else { return };
        for action in actions {
            if let Action::Notify(notice) = action {
                self.inner.notifier.notify(&account, &notice);
            }
        }
    }

    /// Publishes a status change if the state or colour moved, and lets the
    /// scheduler re-plan.
    fn after_change(&self, id: &str) {
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
        let event = EngineEvent { id: 0, account: id.to_owned(), kind, at: now, snapshot: snapshot.ok() };
        // Numbered and recorded under one lock, so that ids reach the ring and
        // the channel in order.
        let mut recent = lock(&self.inner.recent);
        let event = recent.push(event);
        let _ = self.inner.events.send(event);
    }

    /// The recorded events after `after`, or `None` when some of them are no
    /// longer recorded (the client must re-read the state).
    pub fn events_since(&self, after: u64) -> Option<Vec<EngineEvent>> {
        lock(&self.inner.recent).since(after)
    }

    pub fn counters(&self, id: &str) -> Result<Counters, EngineError> {
        self.with_slot(id, |s| s.counters)
    }

    /// The key that guards the local API's token endpoint, made on first use
    /// and kept in the secret store.
    pub async fn api_key(&self) -> Result<Secret, EngineError> {
        let key = self
            .inner
            .api_key
            .get_or_try_init(|| {
                self.store_call(INSTALLATION, |store, owner| {
                    if let Some(key) = store.get(owner, SecretItem::ApiKey)? {
                        return Ok(key);
                    }
                    let key = tokentray_adapters::sinks::new_api_key();
                    store.set(owner, SecretItem::ApiKey, &key)?;
                    Ok(key)
                })
            })
            .await?;
        Ok(key.clone())
    }

    pub(crate) fn with_slot<R>(&self, id: &str, f: impl FnOnce(&mut Slot) -> R) -> Result<R, EngineError> {
        self.slots().get_mut(id).map(f).ok_or_else(|| EngineError::UnknownAccount(id.to_owned()))
    }

    fn slots(&self) -> MutexGuard<'_, BTreeMap<String, Slot>> {
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
        let _lock = lock::acquire(&self.inner.data_dir.join("locks").join("state.lock"), LOCK_TIMEOUT).await?;
        let mut state = self.inner.state_file.load()?;
        f(state.accounts.entry(id.to_owned()).or_default());
        self.inner.state_file.save(&state)?;
        Ok(())
    }

    pub(crate) fn login_slot(&self, id: &str) -> Result<Arc<Notify>, EngineError> {
        let cancel = Arc::new(Notify::new());
        let previous = self.with_slot(id, |s| s.login.replace(cancel.clone()))?;
        if let Some(previous) = previous {
            previous.notify_one();
        }
        Ok(cancel)
    }

    pub(crate) fn end_login(&self, id: &str, mine: &Arc<Notify>) {
        let _ = self.with_slot(id, |s| {
            if s.login.as_ref().is_some_and(|l| Arc::ptr_eq(l, mine)) {
                s.login = None;
            }
        });
    }

    pub(crate) fn client(&self, id: &str) -> Result<ProviderClient, EngineError> {
        self.with_slot(id, |s| s.client.clone())
    }
}

fn timeout(config: &Config) -> Duration {
    config.http_timeout.to_std().unwrap_or(Duration::from_secs(15))
}

fn merge_user(old: &UserInfo, new: UserInfo) -> UserInfo {
    UserInfo { user_id: new.user_id.or(old.user_id.clone()), user_name: new.user_name.or(old.user_name.clone()) }
}

impl Slot {
    fn restore(
        account: AccountConfig,
        http: &reqwest::Client,
        saved: &AccountState,
        now: tokentray_core::Instant,
    ) -> Self {
        let mut lifecycle = Lifecycle::new(&account.id, account.policy());
        if let Some(meta) = saved.token {
            let restored = Event::Restored { meta, validated_at: saved.last_validated, standing: saved.standing };
            lifecycle.handle(restored, now, &mut Vec::new());
        }
        let shown = (lifecycle.state(now), lifecycle.level(now));
        Self {
            client: ProviderClient::new(account.clone(), http.clone()),
            config: account,
            lifecycle,
            tokens: None,
            user: UserInfo { user_id: saved.user_id.clone(), user_name: saved.user_name.clone() },
            last_error_message: saved.last_error_message.clone(),
            generation: 0,
            gate: Arc::new(tokio::sync::Mutex::new(())),
            shown,
            login: None,
            sinks: saved.sinks.clone(),
            counters: Counters::default(),
            pending: None,
            pending_since: saved.pending_save,
            check_gate: Arc::new(tokio::sync::Mutex::new(())),
            checks_done: 0,
            last_check_unknown: None,
        }
    }

    fn status(&self, now: tokentray_core::Instant) -> AccountStatus {
        let s = self.lifecycle.status(now);
        AccountStatus {
            id: self.config.id.clone(),
            label: self.config.label.clone(),
            provider: self.config.provider,
            state: s.state,
            level: s.level,
            countdown: countdown_text(&s),
            message: message(&s, self.pending_since, now),
            act_by: s.act_by,
            remaining_seconds: s.remaining.map(|r| r.num_seconds()),
            expires_at: s.expires_at,
            login_at: s.login_at,
            auto_refresh: s.auto_refresh,
            retry_at: s.retry_at,
            pending_save: self.pending_since,
            user_id: self.user.user_id.clone(),
            user_name: self.user.user_name.clone(),
            last_validated: s.last_validated,
            last_error: s.last_error,
            last_error_message: self.last_error_message.clone(),
            sinks: self.sinks.clone(),
        }
    }
}

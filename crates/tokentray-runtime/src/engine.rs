//! The engine: every account's lifecycle plus the I/O that carries out its
//! decisions. Cheap to clone; all clones share one state.

use crate::lock;
use crate::status::{countdown_text, AccountStatus};
use crate::{Clock, EngineError, EngineEvent, EventKind, Notifier};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokentray_core::{Action, ErrorClass, Event, Level, Lifecycle, State};
use tokentray_engine::config::{AccountConfig, Config};
use tokentray_engine::provider::{http_client, Grant, ProviderClient, UserInfo};
use tokentray_engine::store::state::{AccountState, StateFile};
use tokentray_engine::store::{SecretItem, SecretStore, StorageKind, TokenSet};
use tokentray_engine::Secret;
use tokio::sync::{broadcast, Notify};

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
    pub recent: Mutex<std::collections::VecDeque<EngineEvent>>,
    pub next_event: std::sync::atomic::AtomicU64,
    /// Read from the store once: the token endpoint checks it on every request.
    pub api_key: tokio::sync::OnceCell<Secret>,
}

/// How many past events a resuming client can catch up on.
const RECENT_EVENTS: usize = 1024;

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
    pub sinks: Vec<crate::SinkStatus>,
    pub counters: Counters,
}

/// The API key is filed as `tokentray/api_key`: accounts only file
/// `<id>/api_secret` and `<id>/tokens`, so no account can clash with it.
const API_KEY_OWNER: &str = "tokentray";

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
                recent: Mutex::new(std::collections::VecDeque::with_capacity(RECENT_EVENTS)),
                next_event: std::sync::atomic::AtomicU64::new(1),
                api_key: tokio::sync::OnceCell::new(),
            }),
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    pub fn config(&self) -> Config {
        self.inner.config.lock().expect("config lock").clone()
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
    /// refreshed one where the provider allows it, else "log in".
    pub async fn current_token(&self, id: &str) -> Result<TokenSet, EngineError> {
        let now = self.inner.clock.now();
        // A refresh ahead of expiry is no reason to wait: the current token still works.
        let usable = |s: &AccountStatus| {
            s.state == State::Valid || (s.state == State::Refreshing && s.expires_at.is_some_and(|e| e > now))
        };
        let mut status = self.status(id)?;
        if !usable(&status) && status.auto_refresh {
            status = self.refresh(id).await?;
        }
        if !usable(&status) {
            let why = match status.state {
                State::NoToken => "not logged in".to_owned(),
                State::Expired => match status.expires_at {
                    Some(at) => format!("the token expired at {}", at.with_timezone(&chrono::Local).format("%H:%M:%S")),
                    None => "the token expired".to_owned(),
                },
                _ => "the provider rejected the token".to_owned(),
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
                tracing::warn!(account = id, "refresh failed: {e}");
                let _ = self.with_slot(id, |s| s.counters.refresh_failed += 1);
                let in_flight =
                    self.with_slot(id, |s| s.lifecycle.state(self.inner.clock.now()) == State::Refreshing)?;
                let class = match &e {
                    EngineError::Provider(p) => Some(p.class),
                    EngineError::MissingSecret(_) => Some(ErrorClass::CredentialsWrong),
                    EngineError::Store(_) | EngineError::State(_) | EngineError::Lock(_) => Some(ErrorClass::Transient),
                    // Nothing the lifecycle did not know, unless it is waiting for this result.
                    _ => in_flight.then_some(ErrorClass::TokenInvalid),
                };
                if let Some(class) = class {
                    self.record_failure(id, |now, out, lc| lc.handle(Event::RefreshFailed(class), now, out), &e).await;
                }
                Err(e)
            }
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
        let now = self.inner.clock.now();
        let meta = self.with_slot(id, |s| s.lifecycle.token().copied())?;
        let meta = meta.ok_or_else(|| EngineError::NoToken(id.to_owned()))?;
        if !meta.can_refresh_at(now) {
            return Err(EngineError::NotRefreshable(id.to_owned()));
        }
        let tokens = self.tokens(id).await?;
        let secret = self.api_secret(client.account()).await?;
        let grant = client.refresh(&tokens, &meta, &secret, now).await?;
        tracing::info!(account = id, token = %grant.tokens.access_token, expires_at = %grant.meta.expires_at, "refreshed");
        self.install(id, grant, Event::Refreshed).await?;
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
                self.update_state(id, |st| {
                    st.last_validated = Some(now);
                    st.last_error = None;
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
                tracing::warn!(account = id, "validation failed: {e}");
                let _ = self.with_slot(id, |s| s.counters.validation_failed += 1);
                self.record_failure(id, |now, out, lc| lc.handle(Event::ValidationFailed(class), now, out), &e).await;
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
        let now = self.inner.clock.now();
        self.with_slot(id, |s| {
            s.lifecycle.handle(Event::LoggedOut, now, &mut Vec::new());
            s.tokens = None;
            s.generation += 1;
        })?;
        self.update_state(id, |st| *st = AccountState::default()).await?;
        self.publish(id, EventKind::LoggedOut);
        self.after_change(id);
        Ok(())
    }

    /// Stores a new grant (keyring first, then the state file) and tells everyone.
    pub(crate) async fn install(
        &self,
        id: &str,
        grant: Grant,
        event: fn(tokentray_core::TokenMeta) -> Event,
    ) -> Result<(), EngineError> {
        let tokens = grant.tokens.clone();
        let saved = self.store_call(id, move |store, id| store.set_tokens(id, &tokens)).await;
        let now = self.inner.clock.now();
        let mut notices = Vec::new();
        self.with_slot(id, |s| {
            // Even if the keyring refused, this process keeps serving the new
            // token: the old one may already be dead (a rotated refresh token).
            s.tokens = Some(grant.tokens.clone());
            s.lifecycle.handle(event(grant.meta), now, &mut notices);
            s.user = merge_user(&s.user, grant.user.clone());
            s.last_error_message = saved.as_ref().err().map(|e| format!("the new token could not be saved: {e}"));
            s.generation += 1;
        })?;
        self.dispatch(id, notices);
        let user = self.with_slot(id, |s| s.user.clone())?;
        self.update_state(id, |st| {
            st.token = Some(grant.meta);
            st.user_id = user.user_id;
            st.user_name = user.user_name;
            st.last_validated = Some(now);
            st.last_error = None;
            st.last_error_message = None;
        })
        .await?;
        self.write_sinks(id).await;
        self.publish(id, EventKind::TokenChanged);
        self.after_change(id);
        saved
    }

    /// Writes the new token to every sink of the account; one failing sink
    /// does not stop the others, and each result shows in the status.
    async fn write_sinks(&self, id: &str) {
        let Ok((account, tokens, user, expires_at)) = self.with_slot(id, |s| {
            (s.config.clone(), s.tokens.clone(), s.user.user_id.clone(), s.lifecycle.token().map(|m| m.expires_at))
        }) else {
            return;
        };
        let Some(tokens) = tokens.filter(|_| !account.sinks.is_empty()) else { return };
        let now = self.inner.clock.now();
        let results = tokio::task::spawn_blocking(move || {
            let values = tokentray_engine::sinks::SinkValues {
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
                    let result = tokentray_engine::sinks::write(sink, &values);
                    if let Err(e) = &result {
                        tracing::warn!(account = %account.id, "{e}");
                    }
                    crate::SinkStatus {
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
        let _ = self.with_slot(id, |s| s.sinks = results);
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
        let ours = self.with_slot(id, |s| s.lifecycle.token().map(|m| m.issued_at))?;
        let Some(meta) = saved.token else { return Ok(false) };
        if ours.is_some_and(|t| t >= meta.issued_at) {
            return Ok(false);
        }
        let Some(tokens) = self.store_call(id, |store, id| store.tokens(id)).await? else { return Ok(false) };
        let now = self.inner.clock.now();
        self.with_slot(id, |s| {
            s.tokens = Some(tokens);
            s.lifecycle.handle(Event::Restored { meta, validated_at: saved.last_validated }, now, &mut Vec::new());
            s.user = UserInfo { user_id: saved.user_id.clone(), user_name: saved.user_name.clone() };
            s.last_error_message = None;
            s.generation += 1;
        })?;
        tracing::info!(account = id, "picked up the token another TokenTray process stored");
        self.publish(id, EventKind::TokenChanged);
        self.after_change(id);
        Ok(true)
    }

    /// Applies a new config: new accounts start, removed ones stop (their
    /// secrets stay in the keyring), changed ones keep their token.
    pub fn apply_config(&self, config: Config) {
        let now = self.inner.clock.now();
        let saved = self.inner.state_file.load().unwrap_or_default();
        let timeout_changed = config.http_timeout != self.config().http_timeout;
        let http = {
            let mut http = self.inner.http.lock().expect("http lock");
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
        *self.inner.config.lock().expect("config lock") = config;
        self.publish("", EventKind::ConfigReloaded);
        self.inner.wake.notify_one();
    }

    /// Runs what the lifecycles say is due now; returns the earliest next wake.
    pub(crate) fn tick(&self) -> Option<tokentray_core::Instant> {
        let now = self.inner.clock.now();
        let mut due = Vec::new();
        let mut wake: Option<tokentray_core::Instant> = None;
        {
            let mut slots = self.slots();
            for (id, slot) in slots.iter_mut() {
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
                            let _ = engine.refresh(&id).await;
                        });
                    }
                    Action::Validate => {
                        let engine = self.clone();
                        let id = id.clone();
                        tokio::spawn(async move {
                            let _ = engine.validate(&id).await;
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
        let class = self
            .with_slot(id, |s| {
                apply(now, &mut notices, &mut s.lifecycle);
                s.last_error_message = Some(message.clone());
                s.lifecycle.status(now).last_error
            })
            .ok()
            .flatten();
        self.dispatch(id, notices);
        let saved = self
            .update_state(id, |st| {
                st.last_error = class;
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
        // Numbered and recorded under one lock, so that ids reach the ring and
        // the channel in order.
        let mut recent = self.inner.recent.lock().expect("events lock");
        let event = EngineEvent {
            id: self.inner.next_event.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            account: id.to_owned(),
            kind,
        };
        if recent.len() == RECENT_EVENTS {
            recent.pop_front();
        }
        recent.push_back(event.clone());
        let _ = self.inner.events.send(event);
    }

    /// The recorded events after `after`, or `None` when some of them are no
    /// longer recorded (the client must re-read the state).
    pub fn events_since(&self, after: u64) -> Option<Vec<EngineEvent>> {
        let recent = self.inner.recent.lock().expect("events lock");
        let oldest = recent.front().map_or(self.inner.next_event.load(std::sync::atomic::Ordering::Relaxed), |e| e.id);
        if after + 1 < oldest {
            return None;
        }
        Some(recent.iter().filter(|e| e.id > after).cloned().collect())
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
                self.store_call(API_KEY_OWNER, |store, owner| {
                    if let Some(key) = store.get(owner, SecretItem::ApiKey)? {
                        return Ok(key);
                    }
                    let key = tokentray_engine::sinks::new_api_key();
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
        self.inner.accounts.lock().expect("accounts lock")
    }

    fn lock_path(&self, id: &str) -> PathBuf {
        self.inner.data_dir.join("locks").join(format!("{id}.lock"))
    }

    /// Runs a blocking secret-store call (D-Bus, a file) off the async threads.
    async fn store_call<R: Send + 'static>(
        &self,
        id: &str,
        f: impl FnOnce(&dyn SecretStore, &str) -> Result<R, tokentray_engine::store::StoreError> + Send + 'static,
    ) -> Result<R, EngineError> {
        let store = self.inner.store.clone();
        let id = id.to_owned();
        tokio::task::spawn_blocking(move || f(store.as_ref(), &id))
            .await
            .expect("secret store calls do not panic")
            .map_err(EngineError::from)
    }

    /// Read-modify-write of one account's entry in the state file, under a
    /// lock shared with every other TokenTray process.
    async fn update_state(&self, id: &str, f: impl FnOnce(&mut AccountState)) -> Result<(), EngineError> {
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
            lifecycle.handle(Event::Restored { meta, validated_at: saved.last_validated }, now, &mut Vec::new());
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
            sinks: Vec::new(),
            counters: Counters::default(),
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
            act_by: s.act_by,
            remaining_seconds: s.remaining.map(|r| r.num_seconds()),
            expires_at: s.expires_at,
            login_at: s.login_at,
            auto_refresh: s.auto_refresh,
            user_id: self.user.user_id.clone(),
            user_name: self.user.user_name.clone(),
            last_validated: s.last_validated,
            last_error: s.last_error,
            last_error_message: self.last_error_message.clone(),
            sinks: self.sinks.clone(),
        }
    }
}

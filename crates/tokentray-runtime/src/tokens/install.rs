//! A new grant made durable and served: the journal first, then the secret
//! store, the state file, the sinks and the event, in that order. A store
//! that refuses does not lose the grant: it is served from memory, kept in
//! the journal, and the save is retried.

use crate::engine::merge_user;
use crate::engine::INSTALLATION;
use crate::shared::Saved;
use crate::{Engine, EngineError, EventKind};
use std::sync::Arc;
use std::time::Duration;
use tokentray_adapters::provider::{Grant, UserInfo};
use tokentray_adapters::sinks;
use tokentray_adapters::store::journal::{GrantJournal, JournalEntry};
use tokentray_adapters::store::SecretItem;
use tokentray_core::{Action, Event, Notice, NoticeKind};

impl Engine {
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
        let _work = self.begin_work();
        let origin = crate::shared::Origin::of(&event(grant.meta));
        // A renewal in place (IBKR's tickle about every minute, E*TRADE's
        // renewal) keeps the very token: only its life is new. The store,
        // the sinks and the scripts have it already; the state file and the
        // status take the new life.
        let in_place = matches!(event(grant.meta), Event::Refreshed(_))
            && self.shared().is_none()
            && self.with_slot(id, |s| s.tokens.as_ref() == Some(&grant.tokens))?;
        let saved = match in_place {
            true => Ok(Saved::Stored),
            false => self.save_grant(id, &grant, origin).await,
        };
        let saved = match saved {
            Ok(Saved::Stored) => Ok(()),
            Ok(Saved::Refused(record, version)) => {
                return self.refused_in_shared_store(id, &grant, *record, version).await
            }
            Err(e) => Err(e),
        };
        let now = self.now();
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
        match in_place {
            true => {
                // A sink that writes the expiry is told the new one.
                let writes_expiry = self.with_slot(id, |s| {
                    s.config
                        .sinks
                        .iter()
                        .any(|k| k.fields.values().any(|f| *f == tokentray_core::provider::Field::ExpiresAt))
                })?;
                if writes_expiry {
                    self.write_sinks(id).await;
                }
                self.publish(id, EventKind::StatusChanged);
            }
            false => {
                self.write_sinks(id).await;
                self.publish(id, EventKind::TokenChanged);
            }
        }
        self.after_change(id);
        Ok(())
    }

    /// The grant is in the secret store: the state file describes it, and
    /// its journal record is no longer needed.
    async fn record_stored(&self, id: &str, grant: &Grant, user: UserInfo) -> Result<(), EngineError> {
        let now = self.now();
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
        if let Some(journal) = self.journal_cell().get() {
            journal.clear(id)?;
        }
        Ok(())
    }

    /// Saves the grant's tokens: in Vault as a record with its expiry
    /// (under this daemon's lease for a renewal), else in the secret store.
    async fn save_grant(&self, id: &str, grant: &Grant, origin: crate::shared::Origin) -> Result<Saved, EngineError> {
        if self.shared().is_some() {
            let account = self.with_slot(id, |s| s.config.clone())?;
            return self.store_shared(id, &account, grant, origin).await;
        }
        let tokens = grant.tokens.clone();
        self.store_call(id, move |store, id| store.set_tokens(id, &tokens)).await.map(|()| Saved::Stored)
    }

    /// Vault refused the grant: another machine stored a token after the
    /// one it replaced (or logged out), which is served instead; the
    /// grant's journal record is done with.
    async fn refused_in_shared_store(
        &self,
        id: &str,
        grant: &Grant,
        record: tokentray_adapters::vault::TokenRecord,
        version: u64,
    ) -> Result<(), EngineError> {
        self.adopt_record(id, record, version).await?;
        if let Some(journal) = self.journal_cell().get() {
            if journal.read(id).ok().flatten().is_some_and(|e| e.meta == grant.meta) {
                journal.clear(id)?;
            }
        }
        Ok(())
    }

    /// Tries once to save the grant the store refused; returns whether it is saved now.
    pub(crate) async fn save_pending(&self, id: &str) -> bool {
        let Ok(Some((grant, generation))) = self.with_slot(id, |s| s.pending.clone().map(|g| (g, s.generation))) else {
            return true;
        };
        // A pending renewal is stored as one: only over the token it renewed.
        let origin = match self.shared().is_some_and(|s| s.renews_with(id, &grant.meta)) {
            true => crate::shared::Origin::Renewal,
            false => crate::shared::Origin::Login,
        };
        match self.save_grant(id, &grant, origin).await {
            Ok(Saved::Stored) => {}
            Ok(Saved::Refused(record, version)) => {
                let _ = self.with_slot(id, |s| {
                    if s.generation == generation {
                        s.pending = None;
                        s.pending_since = None;
                    }
                });
                if let Err(e) = self.refused_in_shared_store(id, &grant, *record, version).await {
                    tracing::warn!(account = id, "{e}");
                }
                return true;
            }
            Err(e) => {
                tracing::warn!(account = id, "the new token still cannot be saved: {e}");
                return false;
            }
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
            .journal_cell()
            .get_or_try_init(|| async {
                let key = self
                    .store_call(INSTALLATION, |store, owner| {
                        if let Some(key) = store.get(owner, SecretItem::JournalKey)? {
                            return Ok(key);
                        }
                        let key = GrantJournal::new_key();
                        store.set(owner, SecretItem::JournalKey, &key)?;
                        Ok(key)
                    })
                    .await?;
                Ok::<_, EngineError>(Arc::new(GrantJournal::open(self.data_dir().join("journal"), &key)?))
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
    pub(crate) fn journal_record(
        &self,
        journal: Option<&GrantJournal>,
        id: &str,
        grant: &Grant,
        replaces: Option<tokentray_core::TokenMeta>,
    ) {
        let Some(journal) = journal else { return };
        let entry = JournalEntry {
            tokens: grant.tokens.clone(),
            meta: grant.meta,
            user_id: grant.user.user_id.clone(),
            user_name: grant.user.user_name.clone(),
            replaces,
        };
        if let Err(e) = journal.record(id, &entry) {
            tracing::warn!(account = id, "cannot write the grant journal ({e}); storing the token directly");
        }
    }

    /// Writes the new token to every sink of the account; one failing sink
    /// does not stop the others, and each result shows in the status.
    pub(crate) async fn write_sinks(&self, id: &str) {
        if !self.write_sinks_once(id).await {
            self.spawn_sink_retries(id);
        }
    }

    /// One round over the account's sinks, with the token current once it
    /// is this round's turn; whether every sink took it.
    async fn write_sinks_once(&self, id: &str) -> bool {
        let Ok(gate) = self.with_slot(id, |s| s.sinks_gate.clone()) else { return true };
        let _turn = gate.lock().await;
        let Ok(Some(inputs)) = self.with_slot(id, |s| s.sink_inputs()) else { return true };
        let now = self.now();
        let results =
            tokio::task::spawn_blocking(move || sinks::write_all(&inputs.account.sinks, &inputs.values(), now))
                .await
                .unwrap_or_default();
        let all_written = results.iter().all(|r| r.ok);
        let _ = self.with_slot(id, |s| s.sinks = results.clone());
        if let Err(e) = self.update_state(id, |st| st.sinks = results).await {
            tracing::warn!(account = id, "cannot record the sinks' results in the state file: {e}");
        }
        all_written
    }

    /// A sink that could not take the token (on Windows: a program held
    /// the file open without delete sharing past the write's own retries;
    /// anywhere: a full disk) is tried again, 15 s doubling to 15 minutes,
    /// until every sink holds the token, a newer token takes over (its own
    /// write tries again), or the engine stops. Each round's result is in
    /// the status.
    fn spawn_sink_retries(&self, id: &str) {
        let engine = self.clone();
        let id = id.to_owned();
        let token = self.with_slot(&id, |s| s.tokens.as_ref().map(|t| t.access_token.clone())).ok().flatten();
        tokio::spawn(async move {
            let mut wait = Duration::from_secs(15);
            let mut stopped = engine.stopped();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
                let current =
                    engine.with_slot(&id, |s| s.tokens.as_ref().map(|t| t.access_token.clone())).ok().flatten();
                if current.is_none() || current != token || engine.write_sinks_once(&id).await {
                    return;
                }
                wait = (wait * 2).min(Duration::from_secs(15 * 60));
            }
        });
    }
}

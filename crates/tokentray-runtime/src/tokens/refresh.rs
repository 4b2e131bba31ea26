//! Renewing a token: single-flight in this process (a gate) and across
//! processes (a lock file), and what a failure tells the lifecycle.

use crate::engine::{ENDED_BY_BROKER, LOCK_TIMEOUT};
use crate::plumbing::file_lock;
use crate::{AccountStatus, Engine, EngineError, EventKind};
use std::time::Duration;
use tokentray_adapters::provider::ProviderClient;
use tokentray_core::{ErrorClass, Event, Span, State, TokenMeta};

impl Engine {
    /// Takes the account's turn for a refresh asked for from outside (the
    /// API): `Some(wait)` when the last one was less than `gap` ago.
    pub(crate) fn claim_manual_refresh(&self, id: &str, gap: Duration) -> Result<Option<Duration>, EngineError> {
        let now = self.now();
        self.with_slot(id, |s| {
            let next =
                s.manual_refresh_at.map(|at| tokentray_core::add_span(at, Span::from_std(gap).unwrap_or(Span::MAX)));
            match next.filter(|next| *next > now) {
                Some(next) => Some((next - now).to_std().unwrap_or(gap)),
                None => {
                    s.manual_refresh_at = Some(now);
                    None
                }
            }
        })
    }

    /// Renews the token now. Concurrent calls for one account share one
    /// provider call, in this process (a gate) and across processes (a lock
    /// file); a caller that waited gets the token the other one stored.
    pub async fn refresh(&self, id: &str) -> Result<AccountStatus, EngineError> {
        if self.is_stopping() {
            return Err(EngineError::ShuttingDown);
        }
        let _work = self.begin_work();
        let (gate, generation, attempts, client) =
            self.with_slot(id, |s| (s.gate.clone(), s.generation, s.refresh_attempts, s.client.clone()))?;
        let _gate = gate.lock().await;
        let (now_generation, now_attempts, token) =
            self.with_slot(id, |s| (s.generation, s.refresh_attempts, s.lifecycle.token().copied()))?;
        // Another caller's attempt ended while this one waited: its result
        // is this one's. A second call would spend an outage's retry.
        if now_generation != generation || now_attempts != attempts {
            return self.status(id);
        }
        let token = token.ok_or_else(|| EngineError::NoToken(id.to_owned()))?;
        let result = self.refresh_locked(id, &client, token).await;
        self.with_slot(id, |s| s.refresh_attempts += 1)?;
        match result {
            Ok(called_provider) => {
                if called_provider {
                    self.with_slot(id, |s| s.counters.refresh_ok += 1)?;
                }
                self.status(id)
            }
            Err(e) => {
                let _ = self.with_slot(id, |s| s.counters.refresh_failed += 1);
                let in_flight = self.with_slot(id, |s| s.lifecycle.state(self.now()) == State::Refreshing)?;
                // Nothing the lifecycle did not know, unless it is waiting for this result.
                let failure = e.refresh_failure().or_else(|| in_flight.then_some(ErrorClass::TokenInvalid.into()));
                if let Some(failure) = failure {
                    if !self.record_failure(id, token, Event::RefreshFailed { token, failure }, &e).await {
                        tracing::debug!(account = id, "a renewal of a token since replaced failed: {e}");
                        return self.replaced_meanwhile(id);
                    }
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
    async fn refresh_locked(&self, id: &str, client: &ProviderClient, token: TokenMeta) -> Result<bool, EngineError> {
        let _lock = file_lock::acquire(&self.lock_path(id), LOCK_TIMEOUT).await?;
        // A token stored meanwhile, by another process or a login here, is
        // as new as a renewal would make it.
        if self.adopt_from_disk(id).await? || self.with_slot(id, |s| s.lifecycle.token() != Some(&token))? {
            return Ok(false);
        }
        // No new provider refresh while a grant waits to be saved: it would
        // spend the refresh token that only the waiting grant holds.
        if self.with_slot(id, |s| s.pending.is_some())? && !self.save_pending(id).await {
            let why = "the last new token is not saved yet (the secret store refuses it); retrying the save".to_owned();
            return Err(EngineError::Unavailable { account: id.to_owned(), why });
        }
        let now = self.now();
        if !token.can_refresh_at(now) {
            return Err(EngineError::NotRefreshable(id.to_owned()));
        }
        self.guard_credentials(client.account(), crate::tokens::lockout::Use::Renewal)?;
        // Read before the lease is taken: the lease then covers the provider call only.
        let tokens = self.tokens(id).await?;
        let credentials = self.credentials(client).await?;
        // Opened before the call, so the grant is on disk within a millisecond of its arrival.
        let journal = self.journal().await;
        // Across machines: the lease in Vault, or the token another machine stored meanwhile.
        let took_over = match self.take_lease(id, client.account(), &token).await? {
            crate::shared::LeaseOutcome::Adopted => return Ok(false),
            crate::shared::LeaseOutcome::Held { took_over } => took_over,
        };
        let grant = match client.refresh(&tokens, &token, &credentials, now).await {
            Ok(grant) => grant,
            Err(e) => {
                let e = EngineError::from_provider(client.account(), e);
                // A refresh token spent by another machine's renewal (after a
                // takeover, the old holder's, which may still be storing it):
                // Vault then has its token, and nobody needs to log in.
                if e.class() == Some(ErrorClass::TokenInvalid)
                    && self.adopt_if_renewed_elsewhere(id, &token, took_over).await
                {
                    self.release_lease(id, None).await;
                    return Ok(false);
                }
                // The lease first: the others wait on it. The local count after.
                self.release_lease(id, Some(&e)).await;
                self.count_if_rejected(id, crate::tokens::lockout::Use::Renewal, &e).await;
                return Err(e);
            }
        };
        // A token renewed in place has nothing new to lose.
        if grant.tokens != tokens {
            self.journal_record(journal.as_deref(), id, &grant, Some(token));
        }
        let (token, meta) = (grant.tokens.access_token.clone(), grant.meta);
        // Once the broker answered, the lease is not given back: the grant is
        // stored under it (or retried), or the lease expires.
        self.install(id, grant, Event::Refreshed).await?;
        self.credentials_worked(client.account(), crate::tokens::lockout::Use::Renewal).await;
        // Logged once the new token is the one served, so the line means "in use"
        // (Vault may have refused it for a newer one another machine stored).
        if self.with_slot(id, |s| s.lifecycle.token() == Some(&meta))? {
            tracing::info!(account = id, token = %token, expires_at = %meta.expires_at, "refreshed");
        }
        Ok(true)
    }

    /// Tells the lifecycle that a call about `token` failed, and records why.
    /// Returns false, recording nothing, when the token has been replaced
    /// since: the failure says nothing about the token held now.
    pub(crate) async fn record_failure(&self, id: &str, token: TokenMeta, failed: Event, error: &EngineError) -> bool {
        let now = self.now();
        let mut notices = Vec::new();
        let message = error.to_string();
        let outcome = self.with_slot(id, |s| {
            let held = s.lifecycle.token() == Some(&token);
            let was_rejected = s.lifecycle.standing().access_rejected;
            s.lifecycle.handle(failed, now, &mut notices);
            if held {
                s.last_error_message = Some(message.clone());
            }
            held.then(|| (was_rejected, s.lifecycle.standing()))
        });
        let Ok(Some((was_rejected, standing))) = outcome else { return false };
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
        true
    }
}

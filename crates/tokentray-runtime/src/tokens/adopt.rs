//! What another TokenTray process stored or learnt, taken over here: a newer
//! token, a rejection of the same one, or a logout.

use crate::{AccountStatus, Engine, EngineError, EventKind};
use tokentray_adapters::provider::UserInfo;
use tokentray_adapters::store::state::AccountState;
use tokentray_adapters::store::SecretItem;
use tokentray_core::{ErrorClass, Event, TokenMeta};

impl Engine {
    /// Takes what another process changed for `id` (a command that ran
    /// while no engine served here, and told this one when it ended): its
    /// token, its logout, and with `new_credentials` the credentials it
    /// stored. Returns the account as this engine now answers for it.
    pub async fn adopt_changes(&self, id: &str, new_credentials: bool) -> Result<AccountStatus, EngineError> {
        self.adopt_from_disk(id).await?;
        // The command reset the counts when it stored them; a refusal since
        // (a renewal here, meanwhile) stands.
        if new_credentials {
            self.resume_renewal(id).await?;
        }
        self.status(id)
    }

    /// Takes a token that another process stored, if it is newer than ours.
    pub async fn adopt_from_disk(&self, id: &str) -> Result<bool, EngineError> {
        let saved = self.state_file().load()?.accounts.remove(id).unwrap_or_default();
        self.adopt(id, saved).await
    }

    /// Reads the state file once and adopts every account's newer token.
    pub async fn adopt_all_from_disk(&self) -> Result<(), EngineError> {
        let mut state = self.state_file().load()?;
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
        let Some(meta) = saved.token else { return self.adopt_logout(id, ours.0).await };
        if ours.0.is_some_and(|t| t.issued_at >= meta.issued_at) {
            // The same token: take what another process learnt about it.
            if ours.0 == Some(meta) {
                self.adopt_standing(id, &saved, ours.1).await?;
            }
            return Ok(false);
        }
        let Some(tokens) = self.store_call(id, |store, id| store.tokens(id)).await? else { return Ok(false) };
        let now = self.now();
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
        let Some(token) = saved.token else { return Ok(()) };
        let event = if theirs.access_rejected && !ours.access_rejected {
            Event::ValidationFailed { token, failure: ErrorClass::TokenInvalid.into() }
        } else if theirs.refresh_rejected && !ours.refresh_rejected {
            let class = match theirs.credentials_refused {
                true => ErrorClass::CredentialsWrong,
                false => theirs.last_error.unwrap_or(ErrorClass::TokenInvalid),
            };
            Event::RefreshFailed { token, failure: class.into() }
        } else {
            return Ok(());
        };
        let message = saved.last_error_message.clone();
        let now = self.now();
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

    /// The state file names no token while this engine holds one: another
    /// process logged out, if the secret store agrees. A token the store
    /// still holds is kept (a state file lost or written by hand names
    /// none either), and so is a grant not saved yet. With Vault, logouts
    /// are followed from the records instead.
    async fn adopt_logout(&self, id: &str, ours: Option<TokenMeta>) -> Result<bool, EngineError> {
        if ours.is_none() || self.shared().is_some() || self.with_slot(id, |s| s.pending.is_some())? {
            return Ok(false);
        }
        let generation = self.with_slot(id, |s| s.generation)?;
        if self.store_call(id, |store, id| store.get(id, SecretItem::Tokens)).await?.is_some() {
            return Ok(false);
        }
        // A login stored meanwhile is newer than the logout.
        if self.with_slot(id, |s| s.generation != generation)? {
            return Ok(false);
        }
        tracing::info!(account = id, "another TokenTray process logged out: forgetting the token here too");
        self.forget_token(id).await?;
        Ok(true)
    }
}

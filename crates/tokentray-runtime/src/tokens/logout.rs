//! Logging out: at the provider where it can, and here in any case.

use crate::{Engine, EngineError, EventKind};
use tokentray_adapters::store::state::AccountState;
use tokentray_adapters::store::SecretItem;
use tokentray_core::Event;

impl Engine {
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
        match self.shared() {
            // The other machines follow the logout (they would serve a dead token).
            Some(_) => {
                let token = self.with_slot(id, |s| s.lifecycle.token().copied())?;
                self.record_logout_shared(id, token).await;
            }
            None => self.store_call(id, |store, id| store.delete(id, SecretItem::Tokens)).await?,
        }
        self.forget_token(id).await
    }

    /// Forgets the token here, without the provider or the store: after a
    /// logout here or on another machine sharing the store.
    pub(crate) async fn forget_token(&self, id: &str) -> Result<(), EngineError> {
        if let Some(shared) = self.shared() {
            shared.forget_renewal(id);
        }
        if let Some(journal) = self.journal_cell().get() {
            journal.clear(id)?;
        }
        let now = self.now();
        self.with_slot(id, |s| {
            s.lifecycle.handle(Event::LoggedOut, now, &mut Vec::new());
            s.tokens = None;
            s.pending = None;
            s.pending_since = None;
            s.generation += 1;
        })?;
        // The broker's refusals of the credentials outlive the token: a login
        // after a logout must not send a refused PIN again.
        self.update_state(id, |st| {
            let (renewals_refused, logins_refused) = (st.renewals_refused, st.logins_refused);
            *st = AccountState { renewals_refused, logins_refused, ..AccountState::default() };
        })
        .await?;
        self.publish(id, EventKind::LoggedOut);
        self.after_change(id);
        Ok(())
    }
}

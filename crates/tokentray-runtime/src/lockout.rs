//! Stopping before a broker locks the account. Each time the provider
//! refuses an account's credentials (the api secret, Fyers' PIN) the state
//! file counts it, so every process knows; at the provider's limit
//! (`AccountConfig::credential_tries`) TokenTray stops using them, whoever
//! asks (the scheduler, "Refresh now", `tokentray refresh`, a login), and
//! says what to fix. New credentials, or a login or renewal that works,
//! start the count again.

use crate::{Engine, EngineError};
use tokentray_adapters::config::AccountConfig;

impl Engine {
    /// Refuses to call the provider with credentials it has refused too often.
    pub(crate) fn guard_credentials(&self, account: &AccountConfig) -> Result<(), EngineError> {
        let rejected = self.inner.state_file.load()?.accounts.get(&account.id).map_or(0, |s| s.credentials_rejected);
        let limit = account.credential_tries();
        if rejected >= limit {
            return Err(EngineError::StoppedBeforeLockout {
                account: account.id.clone(),
                rejected,
                fix: account.credentials_fix(),
            });
        }
        Ok(())
    }

    /// Counts `error` towards the limit when it is the provider refusing the credentials.
    pub(crate) async fn count_if_rejected(&self, id: &str, error: &EngineError) {
        if !matches!(error, EngineError::CredentialsRejected { .. }) {
            return;
        }
        if let Err(e) =
            self.update_state(id, |st| st.credentials_rejected = st.credentials_rejected.saturating_add(1)).await
        {
            tracing::warn!(account = id, "cannot count the rejected credentials: {e}");
        }
    }

    /// New credentials were stored: they may be tried again.
    pub async fn credentials_changed(&self, id: &str) -> Result<(), EngineError> {
        self.update_state(id, |st| st.credentials_rejected = 0).await
    }
}

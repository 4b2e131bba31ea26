//! Stopping before a broker locks the account. Each time the broker itself
//! refuses an account's credentials (the api secret, Fyers' PIN), the state
//! file counts it, per use (renewals, logins' exchanges), so every process
//! knows; at the provider's limit (`AccountConfig::credential_tries`)
//! TokenTray stops using them there, whoever asks (the scheduler, "Refresh
//! now", `tokentray refresh`, a login), and says what to fix. A refusal made
//! here (no PIN stored) reached no broker and is not counted. New
//! credentials, a changed api key, or a login or renewal that works, start
//! the counts again (a PIN only the renewals' count: logins never carry it).

use crate::engine::LOCK_TIMEOUT;
use crate::plumbing::file_lock;
use crate::{Engine, EngineError};
use tokentray_adapters::config::AccountConfig;
use tokentray_adapters::store::state::AccountState;
use tokentray_core::{ErrorClass, Event};

/// Where credentials are used: a renewal, or a login's exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    Renewal,
    Login,
}

fn count(st: &mut AccountState, used: Use) -> &mut u32 {
    match used {
        Use::Renewal => &mut st.renewals_refused,
        Use::Login => &mut st.logins_refused,
    }
}

impl Engine {
    /// Refuses to send the broker credentials it has refused too often here.
    pub(crate) fn guard_credentials(&self, account: &AccountConfig, used: Use) -> Result<(), EngineError> {
        let mut saved = self.state_file().load()?.accounts.remove(&account.id).unwrap_or_default();
        let rejected = *count(&mut saved, used);
        if rejected >= account.credential_tries() {
            return Err(EngineError::StoppedBeforeLockout {
                account: account.id.clone(),
                rejected,
                fix: account.credentials_fix(),
            });
        }
        Ok(())
    }

    /// Counts `error` towards the limit when it is the broker refusing the credentials.
    pub(crate) async fn count_if_rejected(&self, id: &str, used: Use, error: &EngineError) {
        // A refusal without an HTTP status was made here (no PIN stored): no broker saw it.
        let EngineError::CredentialsRejected { source, .. } = error else { return };
        if source.status.is_none() {
            return;
        }
        let counted = self.update_state(id, |st| {
            let n = count(st, used);
            *n = n.saturating_add(1);
        });
        if let Err(e) = counted.await {
            tracing::warn!(account = id, "cannot count the refused credentials: {e}");
        }
    }

    /// The broker took the credentials `used`: their count starts again. A
    /// login proves the api secret a renewal uses too, but not Fyers' PIN,
    /// which only a renewal carries.
    pub(crate) async fn credentials_worked(&self, account: &AccountConfig, used: Use) {
        let renewal_proven = used == Use::Renewal || !account.describe().pin;
        let reset = self.update_state(&account.id, |st| {
            st.logins_refused = 0;
            if renewal_proven {
                st.renewals_refused = 0;
            }
        });
        if let Err(e) = reset.await {
            tracing::warn!(account = %account.id, "cannot reset the refused-credentials count: {e}");
        }
    }

    /// New credentials were stored (or the api key changed): they may be
    /// tried again, by every process, and a renewal that stopped for the old
    /// ones goes on. Where renewal carries a PIN (Fyers), a refusal does not
    /// say whether the PIN or the api secret was wrong, and a PIN is what
    /// locks the account: only a PIN stored again starts the renewals' count
    /// again, so no other change sends a refused one once more. A PIN alone
    /// does not free logins, which never carry it.
    pub async fn credentials_changed(&self, id: &str, changed: Credential) -> Result<(), EngineError> {
        // After any renewal under way: its refusal is the old credentials'
        // and must not count against the new ones, nor land after the reset.
        let gate = self.with_slot(id, |s| s.gate.clone())?;
        let _gate = gate.lock().await;
        let _lock = file_lock::acquire(&self.lock_path(id), LOCK_TIMEOUT).await?;
        let pin_renews = self.with_slot(id, |s| s.config.describe().pin)?;
        let renewal_reset = !pin_renews || changed == Credential::Pin;
        let login_reset = changed != Credential::Pin;
        // The counts first, here and for every machine sharing Vault: a
        // renewal resumed below must not meet the old count.
        self.update_state(id, |st| {
            if login_reset {
                st.logins_refused = 0;
            }
            if renewal_reset {
                st.renewals_refused = 0;
            }
        })
        .await?;
        if renewal_reset {
            self.reset_shared_refusals(id).await?;
        }
        self.resume_renewal(id).await
    }

    /// A renewal stopped for its credentials goes on, unless the broker has
    /// refused them as often as it may (a refusal made here, such as no api
    /// secret stored, reached no broker and counts nothing). Also what an
    /// engine does when a command tells it of credentials it stored: the
    /// counts are as the command left them, or as a refusal since has made
    /// them, never reset again here.
    pub(crate) async fn resume_renewal(&self, id: &str) -> Result<(), EngineError> {
        let account = self.with_slot(id, |s| s.config.clone())?;
        let saved = self.state_file().load()?.accounts.remove(id).unwrap_or_default();
        if saved.renewals_refused >= account.credential_tries() {
            return Ok(());
        }
        let now = self.now();
        let (token, standing) = self.with_slot(id, |s| {
            let stopped_for_them = s.lifecycle.standing().credentials_refused
                || s.lifecycle.standing().last_error == Some(ErrorClass::CredentialsWrong);
            s.lifecycle.handle(Event::CredentialsChanged, now, &mut Vec::new());
            if stopped_for_them {
                s.last_error_message = None;
            }
            (s.lifecycle.token().copied(), s.lifecycle.standing())
        })?;
        self.update_state(id, |st| {
            // The state file's standing is its token's: only ours is ours to clear.
            if st.token.is_some() && st.token == token {
                if st.standing.credentials_refused || st.standing.last_error == Some(ErrorClass::CredentialsWrong) {
                    st.last_error_message = None;
                }
                st.standing = standing;
            }
        })
        .await?;
        self.after_change(id);
        Ok(())
    }
}

/// Which of an account's credentials changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credential {
    /// The app's api key (client id), in the config.
    ApiKey,
    ApiSecret,
    /// Fyers' PIN, which its renewal carries.
    Pin,
}

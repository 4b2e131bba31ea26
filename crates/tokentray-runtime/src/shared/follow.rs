//! Following the other machines: a token one of them stored is served here
//! (slot, state file, sinks, event) as if renewed here, and a logout on one
//! of them is followed. A daemon looks at each account's record version
//! every `poll`; a start and a one-shot command read every record once.

use super::{parse_record, Shared, TOKEN_CHECK_EVERY};
use crate::plumbing::mutex::lock;
use crate::{Engine, EngineError, EventKind};
use std::time::Duration;
use tokentray_adapters::store::state::AccountState;
use tokentray_adapters::vault::{access_path, said, tokens_path, TokenRecord, VaultError};
use tokentray_core::{Event, Standing, TokenMeta};

/// The longest wait between two looks at Vault while it fails.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl Engine {
    /// Serves the token in `record` unless it is the one served here, or
    /// this machine holds a grant Vault has not taken yet (which is not
    /// given up for it). Vault's version order says which is newer.
    pub(crate) async fn adopt_record(&self, id: &str, record: TokenRecord, version: u64) -> Result<bool, EngineError> {
        let shared = self.shared();
        let (account, ours, pending) =
            self.with_slot(id, |s| (s.config.clone(), s.lifecycle.token().copied(), s.pending.is_some()))?;
        // Looked at again once the pending grant is saved or refused.
        if pending {
            return Ok(false);
        }
        if let Some(shared) = shared {
            // Read before a write this process made since: the newer one stands.
            if version < shared.seen(id) {
                return Ok(false);
            }
            shared.saw(id, version);
        }
        if !record.belongs_to(&account) {
            tracing::warn!(account = id, provider = ?record.provider, "the token in Vault for this account id belongs to another app; it is not served here");
            return Ok(false);
        }
        if record.is_logout() {
            return self.follow_logout(id, &record, ours).await;
        }
        let Some(grant) = record.grant() else { return Ok(false) };
        if ours == Some(grant.meta) {
            return Ok(false);
        }
        let now = self.now();
        let meta = grant.meta;
        let mut notices = Vec::new();
        self.with_slot(id, |s| {
            s.tokens = Some(grant.tokens.clone());
            // The machine that stored it had it from the provider a moment before.
            let restored = Event::Restored { meta, validated_at: Some(meta.issued_at), standing: Standing::default() };
            s.lifecycle.handle(restored, now, &mut notices);
            s.user = crate::engine::merge_user(&s.user, grant.user.clone());
            s.last_error_message = None;
            s.pending_since = None;
            s.generation += 1;
        })?;
        self.dispatch(id, notices);
        let user = self.with_slot(id, |s| s.user.clone())?;
        self.update_state(id, |st| {
            *st = AccountState {
                token: Some(meta),
                user_id: user.user_id,
                user_name: user.user_name,
                last_validated: Some(meta.issued_at),
                sinks: std::mem::take(&mut st.sinks),
                // Another machine's token proves nothing about the credentials here.
                renewals_refused: st.renewals_refused,
                logins_refused: st.logins_refused,
                ..AccountState::default()
            };
        })
        .await?;
        tracing::info!(
            account = id,
            by = %said(record.stored_by.as_deref().unwrap_or("?")),
            "picked up the token another machine stored in Vault"
        );
        self.write_sinks(id).await;
        self.publish(id, EventKind::TokenChanged);
        self.after_change(id);
        Ok(true)
    }

    /// Another machine logged the account out: its token is dead at the
    /// broker, so it is forgotten here too.
    async fn follow_logout(
        &self,
        id: &str,
        record: &TokenRecord,
        ours: Option<TokenMeta>,
    ) -> Result<bool, EngineError> {
        if ours.is_none() {
            return Ok(false);
        }
        let by = said(record.logged_out_by.as_deref().unwrap_or("?"));
        tracing::info!(account = id, by, "another machine logged this account out; forgetting the token here too");
        self.forget_token(id).await?;
        Ok(true)
    }

    /// After a logout here: the record says so (over the token logged out,
    /// never over a login another machine stored meanwhile), and the old
    /// versions' tokens are destroyed. If Vault cannot be reached, the
    /// other machines do not hear of it; the token is forgotten here anyway.
    pub(crate) async fn record_logout_shared(&self, id: &str, logged_out: Option<TokenMeta>) {
        let Some(shared) = self.shared() else { return };
        let path = tokens_path(id);
        for _ in 0..5 {
            let read = match shared.client.read(&path).await {
                Ok(r) => r,
                Err(e) => return tracing::warn!(account = id, "the other machines will not hear of this logout: {e}"),
            };
            let (record, version) = match read {
                Some(v) => (parse_record(id, v.data), v.version),
                None => (TokenRecord::default(), 0),
            };
            // A renewal of the session logged out (same login) is ended too;
            // a login another machine made since is kept.
            let same_session = |m: TokenMeta| logged_out.is_some_and(|l| l == m || l.login_at == m.login_at);
            if record.token_meta().is_some_and(|m| !same_session(m)) {
                return tracing::info!(account = id, "another machine logged in since: Vault keeps its token");
            }
            let mut marker = TokenRecord::logged_out(&shared.holder, self.now());
            (marker.fence, marker.provider, marker.client_id) = (record.fence, record.provider, record.client_id);
            // A logout proves no credentials: refusals counted stay counted.
            marker.refusals = record.refusals;
            match shared.client.write(&path, &marker.to_map(), Some(version)).await {
                Ok(written) => {
                    shared.saw(id, written);
                    // The versions a KV engine keeps (10 by default): earlier ones are gone.
                    let old: Vec<u64> = (written.saturating_sub(20).max(1)..written).collect();
                    if let Err(e) = shared.client.destroy_versions(&path, &old).await {
                        tracing::warn!(account = id, "the old versions of the token record are not destroyed: {e}");
                    }
                    if let Err(e) = shared.client.destroy(&access_path(id)).await {
                        tracing::warn!(account = id, "the bots' copy of the token is not removed from Vault: {e}");
                    }
                    return;
                }
                Err(VaultError::CasMismatch { .. }) => continue,
                Err(e) => return tracing::warn!(account = id, "the other machines will not hear of this logout: {e}"),
            }
        }
    }

    /// Reads every account's record once and serves what other machines
    /// stored (a start, a one-shot command). Stops at the first outage: the
    /// tokens here keep being served, and one unreachable Vault costs one timeout.
    pub(crate) async fn adopt_all_shared(&self) -> Result<(), EngineError> {
        let Some(shared) = self.shared() else { return Ok(()) };
        let ids: Vec<String> = self.slots().keys().cloned().collect();
        for id in ids {
            match shared.client.read(&tokens_path(&id)).await {
                Ok(Some(v)) => {
                    shared.ok();
                    self.adopt_record(&id, parse_record(&id, v.data), v.version).await?;
                }
                Ok(None) => {
                    shared.ok();
                    self.forget_unshared(&id).await?;
                }
                Err(e) if e.is_transient() => {
                    shared.failed(&e);
                    break;
                }
                Err(e) => {
                    shared.failed(&e);
                    tracing::warn!(account = %id, "{e}");
                }
            }
        }
        Ok(())
    }

    /// Vault has no record of the account, yet this machine shows a token:
    /// one from before the switch to Vault, whose secrets stayed in the
    /// keyring. Nothing can serve it now; saying "valid" would be wrong.
    async fn forget_unshared(&self, id: &str) -> Result<(), EngineError> {
        let (held, pending) = self.with_slot(id, |s| (s.lifecycle.token().is_some(), s.pending.is_some()))?;
        if held && !pending {
            tracing::warn!(
                account = id,
                "Vault holds no token for this account (the storage changed?): log in once from any machine"
            );
            self.forget_token(id).await?;
        }
        Ok(())
    }

    /// Follows the other machines: each account's record version every
    /// `poll` (backing off to a minute while Vault cannot be reached), and
    /// the Vault token's upkeep on a schedule of its own.
    pub(crate) fn spawn_shared_follower(&self) {
        let Some(shared) = self.shared() else { return };
        let poll = shared.poll;
        let engine = self.clone();
        tokio::spawn(async move {
            let mut stopped = engine.stopped();
            let mut wait = Duration::ZERO;
            let mut check_token_at = std::time::Instant::now();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
                let reachable = engine.follow_once().await;
                if std::time::Instant::now() >= check_token_at {
                    // Often enough to renew a short-lived token in time.
                    let ttl = engine.keep_vault_token().await;
                    let every = ttl.map_or(TOKEN_CHECK_EVERY, |t| (Duration::from_secs(t) / 3).min(TOKEN_CHECK_EVERY));
                    check_token_at = std::time::Instant::now() + every.max(Duration::from_secs(1));
                }
                wait = match reachable {
                    true => poll,
                    false => (wait * 2).clamp(poll, MAX_BACKOFF),
                };
            }
        });
    }

    /// One look at every account's record version; false if Vault could
    /// not be reached. An account Vault refuses (its policy) does not stop the others.
    async fn follow_once(&self) -> bool {
        let Some(shared) = self.shared() else { return true };
        let focus = self.focused();
        let ids: Vec<String> =
            self.slots().keys().filter(|id| focus.as_ref().is_none_or(|f| f == *id)).cloned().collect();
        let (mut reachable, mut refused) = (true, false);
        for id in ids {
            if let Err(e) = self.follow_account(shared, &id).await {
                shared.failed(&e);
                refused = true;
                if e.is_transient() {
                    reachable = false;
                    break;
                }
            }
        }
        // Healthy only when every account could be followed (no flapping).
        if !refused {
            shared.ok();
        }
        reachable
    }

    async fn follow_account(&self, shared: &Shared, id: &str) -> Result<(), VaultError> {
        let path = tokens_path(id);
        let Some(version) = shared.client.version(&path).await? else { return Ok(()) };
        if lock(&shared.seen).get(id) == Some(&version) {
            return Ok(());
        }
        // A renewal here is running: it reads the record itself.
        let Ok(gate) = self.with_slot(id, |s| s.gate.clone()) else { return Ok(()) };
        let Ok(_gate) = gate.try_lock() else { return Ok(()) };
        if let Some(read) = shared.client.read(&path).await? {
            let record = parse_record(id, read.data);
            if let Err(e) = self.adopt_record(id, record, read.version).await {
                tracing::warn!(account = %id, "cannot serve the token another machine stored: {e}");
            }
        }
        Ok(())
    }
}

//! Several machines, one token (`storage = "vault"`). The lock file keeps
//! one refresher per machine; across machines the token record in Vault
//! carries a lease, taken with a check-and-set write before the provider
//! is called. The others wait, then adopt what the holder stored; a holder
//! that dies loses its lease when it expires, and a token written under a
//! lease someone has since taken over is refused (the record's version is
//! the fence). Every daemon follows the record's version and serves a new
//! token as if it had renewed it itself.

use crate::engine::{lock, LOCK_TIMEOUT};
use crate::{Engine, EngineError, EventKind};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokentray_adapters::provider::Grant;
use tokentray_adapters::store::state::AccountState;
use tokentray_adapters::store::StoreError;
use tokentray_adapters::vault::{tokens_path, Lease, TokenRecord, TokenStanding, VaultClient, VaultError};
use tokentray_core::{Event, Span, Standing, TokenMeta};

/// How often a daemon waiting for another's lease reads the record.
const LEASE_POLL: Duration = Duration::from_millis(200);
/// The longest wait between two looks at Vault while it fails.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often the Vault token's own expiry is looked at.
const TOKEN_CHECK_EVERY: Duration = Duration::from_secs(300);
/// A token that cannot be renewed is worth a warning this long before it ends.
const TOKEN_WARN_BEFORE: u64 = 24 * 3600;
/// How many times a write re-reads after another machine wrote first.
const CAS_TRIES: usize = 8;

/// The shared store as the engine uses it.
pub(crate) struct Shared {
    pub client: VaultClient,
    /// This daemon's name in leases: host, process and a per-start nonce.
    pub holder: String,
    lease: Span,
    poll: Duration,
    /// The record version each account was last seen at.
    seen: Mutex<HashMap<String, u64>>,
    /// The lease this daemon holds per account, by the version it wrote.
    held: Mutex<HashMap<String, u64>>,
    health: Mutex<Health>,
}

#[derive(Debug, Clone, Default)]
struct Health {
    /// Why the last call failed, while it does.
    failing: Option<String>,
    token: Option<TokenStanding>,
}

/// What `status` says of the shared store.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SharedStatus {
    pub address: String,
    pub location: String,
    pub holder: String,
    /// Why Vault cannot be used now, if it cannot.
    pub failing: Option<String>,
    /// Seconds the Vault token has left (`None`: it never expires, or unknown yet).
    pub token_ttl: Option<u64>,
    /// The same, for people ("3h 20m").
    pub token_left: Option<String>,
    pub token_renewable: Option<bool>,
    pub warning: Option<String>,
}

/// What taking the lease came to.
pub(crate) enum LeaseOutcome {
    /// Ours: call the provider.
    Held,
    /// Another machine stored a newer token meanwhile; it is served now.
    Adopted,
}

/// Where a grant being stored comes from, which decides what it may replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A renewal under this daemon's lease: stored only if nobody wrote since.
    Renewal,
    /// A login the user just made: it replaces whatever Vault holds.
    Login,
    /// The journal's grant, replayed at a start: only over an older token.
    Replay,
}

impl Origin {
    pub fn of(event: &Event) -> Self {
        match event {
            Event::Refreshed(_) => Self::Renewal,
            Event::Restored { .. } => Self::Replay,
            _ => Self::Login,
        }
    }
}

/// What storing a grant came to.
pub(crate) enum Saved {
    Stored,
    /// Refused: the record holds a newer token, or our lease was taken over.
    Refused {
        newer: Option<Box<TokenRecord>>,
    },
}

impl Shared {
    pub fn new(client: VaultClient) -> Self {
        let config = client.config().clone();
        let host = hostname();
        let nonce = tokentray_adapters::Secret::random(4);
        Self {
            holder: format!("{host}/{}/{}", std::process::id(), &nonce.expose()[..6.min(nonce.expose().len())]),
            lease: config.lease,
            poll: config.poll.to_std().unwrap_or(Duration::from_secs(1)),
            client,
            seen: Mutex::default(),
            held: Mutex::default(),
            health: Mutex::default(),
        }
    }

    /// Whether this daemon holds `id`'s lease (a renewal's save still to retry).
    pub fn holds_lease(&self, id: &str) -> bool {
        lock(&self.held).contains_key(id)
    }

    /// The record version last seen for `id`.
    pub fn seen(&self, id: &str) -> u64 {
        lock(&self.seen).get(id).copied().unwrap_or(0)
    }

    fn ok(&self) {
        let mut h = lock(&self.health);
        if h.failing.take().is_some() {
            tracing::info!("Vault answers again");
        }
    }

    fn failed(&self, e: &VaultError) {
        let mut h = lock(&self.health);
        if h.failing.is_none() {
            tracing::warn!("{e}");
        }
        h.failing = Some(e.to_string());
    }
}

fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name: String = name.trim().chars().filter(|c| c.is_ascii_graphic() && *c != '/').take(64).collect();
    if name.is_empty() {
        "host".to_owned()
    } else {
        name
    }
}

fn store_error(e: VaultError) -> EngineError {
    EngineError::Store(StoreError::from(e))
}

impl Engine {
    pub(crate) fn shared(&self) -> Option<&Shared> {
        self.inner.shared.as_ref()
    }

    /// Takes the account's lease before its token `ours` is renewed, or
    /// adopts the newer token another machine stored. Waits while another
    /// live daemon holds the lease, up to a minute.
    pub(crate) async fn take_lease(&self, id: &str, ours: &TokenMeta) -> Result<LeaseOutcome, EngineError> {
        let Some(shared) = self.shared() else { return Ok(LeaseOutcome::Held) };
        let path = tokens_path(id);
        let started = std::time::Instant::now();
        let mut waiting_for: Option<String> = None;
        loop {
            let read = shared.client.read(&path).await.inspect_err(|e| shared.failed(e)).map_err(store_error)?;
            shared.ok();
            let (mut record, version) = match read {
                Some(v) => (parse_record(id, v.data)?, v.version),
                None => (TokenRecord::default(), 0),
            };
            // Another machine stored a token after ours, or logged it out
            // (Vault's versions order the machines' writes; their clocks may disagree).
            if record.grant().is_some_and(|g| g.meta != *ours) || record.is_logout() {
                self.adopt_record(id, record, version).await?;
                return Ok(LeaseOutcome::Adopted);
            }
            // Leases compare wall clocks across machines: the system's, not the engine's.
            let now = chrono::Utc::now();
            if let Some(lease) = record.held_by_other(&shared.holder, now) {
                if started.elapsed() > LOCK_TIMEOUT {
                    let why = format!(
                        "{} has held the renewal in Vault for over {}s; is it stuck?",
                        lease.holder,
                        LOCK_TIMEOUT.as_secs()
                    );
                    return Err(EngineError::Unavailable { account: id.to_owned(), why });
                }
                if waiting_for.as_deref() != Some(&lease.holder) {
                    tracing::info!(account = id, holder = %lease.holder, "another machine is renewing this token; waiting for it");
                    waiting_for = Some(lease.holder.clone());
                }
                tokio::time::sleep(LEASE_POLL).await;
                continue;
            }
            if let Some(lease) = record.lease.as_ref().filter(|l| l.holder != shared.holder) {
                tracing::warn!(account = id, holder = %lease.holder, fence = lease.fence, "taking over a lease that expired (its holder stopped mid-renewal?)");
            }
            record.fence += 1;
            record.lease = Some(Lease {
                holder: shared.holder.clone(),
                fence: record.fence,
                expires_at: tokentray_core::add_span(now, shared.lease),
            });
            match shared.client.write(&path, &record.to_map(), Some(version)).await {
                Ok(written) => {
                    lock(&shared.held).insert(id.to_owned(), written);
                    lock(&shared.seen).insert(id.to_owned(), written);
                    return Ok(LeaseOutcome::Held);
                }
                Err(VaultError::CasMismatch { .. }) => continue,
                Err(e) => {
                    shared.failed(&e);
                    return Err(store_error(e));
                }
            }
        }
    }

    /// Gives the lease back when the renewal it was taken for failed, so
    /// another machine need not wait for it to expire.
    pub(crate) async fn release_lease(&self, id: &str) {
        let Some(shared) = self.shared() else { return };
        let Some(version) = lock(&shared.held).remove(id) else { return };
        let path = tokens_path(id);
        let Ok(Some(read)) = shared.client.read(&path).await else { return };
        if read.version != version {
            return;
        }
        let Ok(mut record) = TokenRecord::from_map(read.data) else { return };
        record.lease = None;
        if let Ok(written) = shared.client.write(&path, &record.to_map(), Some(version)).await {
            lock(&shared.seen).insert(id.to_owned(), written);
        }
    }

    /// Stores a new grant in Vault: a renewal under this daemon's lease
    /// (refused if anyone wrote since: the fence), a login over whatever is
    /// there, a replayed journal grant only over an older token.
    pub(crate) async fn store_shared(&self, id: &str, grant: &Grant, origin: Origin) -> Result<Saved, EngineError> {
        let Some(shared) = self.shared() else { return Ok(Saved::Stored) };
        let path = tokens_path(id);
        let leased = match origin {
            Origin::Renewal => lock(&shared.held).remove(id),
            Origin::Login | Origin::Replay => None,
        };
        for _ in 0..CAS_TRIES {
            let read = shared.client.read(&path).await.inspect_err(|e| shared.failed(e)).map_err(store_error)?;
            shared.ok();
            let (mut record, version) = match read {
                Some(v) => (parse_record(id, v.data)?, v.version),
                None => (TokenRecord::default(), 0),
            };
            let older_than_vaults = record.issued_at().is_some_and(|at| at >= grant.meta.issued_at);
            if origin == Origin::Replay && older_than_vaults {
                return Ok(Saved::Refused { newer: Some(Box::new(record)) });
            }
            if let Some(ours) = leased {
                if version != ours {
                    return Ok(self.fenced(id, record));
                }
            }
            record.store(grant, &shared.holder);
            match shared.client.write(&path, &record.to_map(), Some(version)).await {
                Ok(written) => {
                    lock(&shared.seen).insert(id.to_owned(), written);
                    return Ok(Saved::Stored);
                }
                Err(VaultError::CasMismatch { .. }) if leased.is_none() => {
                    tracing::debug!(account = id, "another machine wrote the record first; reading it again");
                    continue;
                }
                Err(VaultError::CasMismatch { .. }) => {
                    let record = match shared.client.read(&path).await {
                        Ok(Some(v)) => parse_record(id, v.data)?,
                        _ => TokenRecord::default(),
                    };
                    return Ok(self.fenced(id, record));
                }
                Err(e) => {
                    shared.failed(&e);
                    // The lease is still ours until it expires: the retried save uses it.
                    if let Some(v) = leased {
                        lock(&shared.held).insert(id.to_owned(), v);
                    }
                    return Err(store_error(e));
                }
            }
        }
        Err(store_error(VaultError::CasMismatch { path }))
    }

    /// A renewal whose lease was taken over (someone wrote since: the
    /// fence). If the record holds another token than the one renewed, it
    /// came after this lease and wins; otherwise the takeover is still
    /// renewing, and this grant stays in the journal.
    fn fenced(&self, id: &str, record: TokenRecord) -> Saved {
        let theirs = record.lease.as_ref().map(|l| format!("{} (fence {})", l.holder, l.fence));
        let ours = self.with_slot(id, |s| s.lifecycle.token().copied()).ok().flatten();
        let newer = record.grant().is_some_and(|g| Some(g.meta) != ours);
        tracing::error!(
            account = id,
            taken_over_by = theirs.as_deref().unwrap_or("?"),
            "this renewal's lease was taken over before its token was stored (a stale fencing number): Vault refuses \
             the token; {}",
            if newer { "the newer token there is served" } else { "it is kept in this machine's journal" }
        );
        Saved::Refused { newer: newer.then(|| Box::new(record)) }
    }

    /// Serves the token in `record` if it is newer than ours: the slot, the
    /// state file, the sinks and the event, as for a renewal made here.
    pub(crate) async fn adopt_record(&self, id: &str, record: TokenRecord, version: u64) -> Result<bool, EngineError> {
        if let Some(shared) = self.shared() {
            lock(&shared.seen).insert(id.to_owned(), version);
        }
        if record.is_logout() {
            return self.follow_logout(id, &record).await;
        }
        let Some(grant) = record.grant() else { return Ok(false) };
        // The record is newer by Vault's order unless it is our own token; a
        // grant of ours that Vault has not taken yet is not given up for it.
        let (ours, pending) = self.with_slot(id, |s| (s.lifecycle.token().copied(), s.pending.is_some()))?;
        if ours == Some(grant.meta) || pending {
            return Ok(false);
        }
        let now = self.inner.clock.now();
        let meta = grant.meta;
        let mut notices = Vec::new();
        self.with_slot(id, |s| {
            s.tokens = Some(grant.tokens.clone());
            // The machine that stored it had it from the provider a moment before.
            let restored = Event::Restored { meta, validated_at: Some(meta.issued_at), standing: Standing::default() };
            s.lifecycle.handle(restored, now, &mut notices);
            s.user = crate::slot::merge_user(&s.user, grant.user.clone());
            s.last_error_message = None;
            s.pending = None;
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
                ..AccountState::default()
            };
        })
        .await?;
        if let Some(journal) = self.inner.journal.get() {
            if journal.read(id).ok().flatten().is_some_and(|e| e.meta.issued_at <= meta.issued_at) {
                journal.clear(id)?;
            }
        }
        tracing::info!(
            account = id,
            by = record.stored_by.as_deref().unwrap_or("?"),
            "picked up the token another machine stored in Vault"
        );
        self.write_sinks(id).await;
        self.publish(id, EventKind::TokenChanged);
        self.after_change(id);
        Ok(true)
    }

    /// Another machine logged the account out: its token is dead at the
    /// broker, so it is forgotten here too (a grant not yet in Vault is kept).
    async fn follow_logout(&self, id: &str, record: &TokenRecord) -> Result<bool, EngineError> {
        let (held, pending) = self.with_slot(id, |s| (s.lifecycle.token().is_some(), s.pending.is_some()))?;
        if !held || pending {
            return Ok(false);
        }
        let by = record.logged_out_by.as_deref().unwrap_or("?");
        tracing::info!(account = id, by, "another machine logged this account out; forgetting the token here too");
        self.forget_token(id).await?;
        Ok(true)
    }

    /// After a logout here: a record that says so, for the other machines.
    /// A login another machine stored meanwhile is left alone (check-and-set).
    pub(crate) async fn record_logout_shared(&self, id: &str) {
        let Some(shared) = self.shared() else { return };
        let record = TokenRecord::logged_out(&shared.holder, chrono::Utc::now());
        match shared.client.write(&tokens_path(id), &record.to_map(), Some(0)).await {
            Ok(version) => {
                lock(&shared.seen).insert(id.to_owned(), version);
            }
            Err(VaultError::CasMismatch { .. }) => {}
            Err(e) => tracing::warn!(account = id, "the other machines will not hear of this logout: {e}"),
        }
    }

    /// Reads every account's record once and serves the newer tokens (a
    /// start, a one-shot command).
    pub(crate) async fn adopt_all_shared(&self) -> Result<(), EngineError> {
        let Some(shared) = self.shared() else { return Ok(()) };
        let ids: Vec<String> = self.slots().keys().cloned().collect();
        for id in ids {
            let read = shared.client.read(&tokens_path(&id)).await.inspect_err(|e| shared.failed(e));
            match read {
                Ok(Some(v)) => {
                    let record = parse_record(&id, v.data)?;
                    self.adopt_record(&id, record, v.version).await?;
                }
                Ok(None) => {}
                // The last token keeps being served; the follower tries again.
                Err(e) => tracing::debug!(account = %id, "{e}"),
            }
        }
        Ok(())
    }

    /// Follows the other machines: looks at each account's record version
    /// every `poll` (backing off to a minute while Vault fails) and serves
    /// a newer token; keeps the Vault token renewed.
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
                let healthy = engine.follow_once().await;
                if healthy && std::time::Instant::now() >= check_token_at {
                    // Often enough to renew a short-lived token in time.
                    let ttl = engine.keep_vault_token().await;
                    let every = ttl.map_or(TOKEN_CHECK_EVERY, |t| (Duration::from_secs(t) / 3).min(TOKEN_CHECK_EVERY));
                    check_token_at = std::time::Instant::now() + every.max(Duration::from_secs(1));
                }
                wait = match healthy {
                    true => poll,
                    false => (wait * 2).clamp(poll, MAX_BACKOFF),
                };
            }
        });
    }

    /// One look at every account's record version; false if Vault failed.
    async fn follow_once(&self) -> bool {
        let Some(shared) = self.shared() else { return true };
        let focus = lock(&self.inner.focus).clone();
        let ids: Vec<String> =
            self.slots().keys().filter(|id| focus.as_ref().is_none_or(|f| f == *id)).cloned().collect();
        for id in ids {
            let path = tokens_path(&id);
            let version = match shared.client.version(&path).await {
                Ok(v) => v,
                Err(e) => {
                    shared.failed(&e);
                    return false;
                }
            };
            shared.ok();
            let Some(version) = version else { continue };
            if lock(&shared.seen).get(&id) == Some(&version) {
                continue;
            }
            // A renewal here is running: it reads the record itself.
            let Ok(gate) = self.with_slot(&id, |s| s.gate.clone()) else { continue };
            let Ok(_gate) = gate.try_lock() else { continue };
            match shared.client.read(&path).await {
                Ok(Some(read)) => {
                    let adopted = match TokenRecord::from_map(read.data) {
                        Ok(record) => self.adopt_record(&id, record, read.version).await,
                        Err(e) => {
                            tracing::warn!(account = %id, "the token record in Vault cannot be read ({e}); keeping the token here");
                            lock(&shared.seen).insert(id.clone(), read.version);
                            continue;
                        }
                    };
                    if let Err(e) = adopted {
                        tracing::warn!(account = %id, "cannot serve the token another machine stored: {e}");
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    shared.failed(&e);
                    return false;
                }
            }
        }
        true
    }

    /// Looks at the Vault token's expiry; renews it past half its life when
    /// it is renewable. Returns its seconds left, if it expires.
    async fn keep_vault_token(&self) -> Option<u64> {
        let shared = self.shared()?;
        let mut standing = match shared.client.token_standing().await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!("cannot look up the Vault token: {e}");
                return None;
            }
        };
        if let (Some(ttl), true) = (standing.ttl, standing.renewable) {
            let half = standing.creation_ttl.unwrap_or(ttl * 2) / 2;
            if ttl < half {
                match shared.client.renew_token().await {
                    Ok(new_ttl) => {
                        tracing::info!(ttl_seconds = new_ttl, "renewed the Vault token");
                        standing = shared.client.token_standing().await.unwrap_or(standing);
                    }
                    Err(e) => tracing::warn!("cannot renew the Vault token: {e}"),
                }
            }
        }
        lock(&shared.health).token = Some(standing);
        standing.ttl
    }

    /// The shared store's state, for `status` (a one-shot call looks the
    /// token up now; a daemon says what it last saw).
    pub async fn shared_status(&self) -> Option<SharedStatus> {
        let shared = self.shared()?;
        if lock(&shared.health).token.is_none() {
            match shared.client.token_standing().await {
                Ok(t) => {
                    shared.ok();
                    lock(&shared.health).token = Some(t);
                }
                Err(e) => shared.failed(&e),
            }
        }
        let health = lock(&shared.health).clone();
        let warning = health.token.and_then(|t| match t.ttl {
            Some(ttl) if ttl < TOKEN_WARN_BEFORE && !t.renewable => Some(format!(
                "the Vault token expires in {} and cannot be renewed: give TokenTray a new one before then",
                tokentray_core::format_countdown(Span::seconds(ttl as i64))
            )),
            _ => None,
        });
        Some(SharedStatus {
            address: shared.client.config().address.to_string(),
            location: shared.client.location(),
            holder: shared.holder.clone(),
            failing: health.failing,
            token_ttl: health.token.and_then(|t| t.ttl),
            token_left: health
                .token
                .and_then(|t| t.ttl)
                .map(|ttl| tokentray_core::format_countdown(Span::seconds(ttl as i64))),
            token_renewable: health.token.map(|t| t.renewable),
            warning,
        })
    }
}

fn parse_record(id: &str, data: serde_json::Map<String, serde_json::Value>) -> Result<TokenRecord, EngineError> {
    TokenRecord::from_map(data).map_err(|e| {
        EngineError::Store(StoreError::Corrupt(format!(
            "the token record of {id} in Vault ({e}); log in again to write a new one"
        )))
    })
}

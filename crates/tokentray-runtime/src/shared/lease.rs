//! The lease: one renewal at a time across machines, and what a renewal
//! stores. A daemon takes the lease with a check-and-set write of holder,
//! expiry and a new fence into the account's record; the others wait, then
//! adopt what it stored, or take its failure as theirs. A lease is judged
//! expired by this machine's monotonic clock (held past `lease` since it
//! was first seen), never by another machine's wall clock.
//!
//! A renewal's token is stored only while the record still holds the token
//! it renewed: a token someone stored meanwhile (a login, a takeover's
//! renewal) wins, and the renewal is refused. While a takeover is still
//! renewing, the stale holder waits for it; if it stores nothing, the stale
//! holder's token is stored (the broker may have spent the old refresh
//! token on it: it must not be forgotten).

use super::{parse_record, store_error, Held, Shared};
use crate::engine::LOCK_TIMEOUT;
use crate::plumbing::mutex::lock;
use crate::{Engine, EngineError};
use std::time::{Duration, Instant};
use tokentray_adapters::config::AccountConfig;
use tokentray_adapters::provider::Grant;
use tokentray_adapters::vault::{
    access_path, said, tokens_path, AccessCopy, FailedRenewal, Lease, TokenRecord, VaultError,
};
use tokentray_core::{Event, TokenMeta};

/// How often a daemon waiting for another's lease reads the record.
const LEASE_POLL: Duration = Duration::from_millis(200);
/// A pause before reading again after another machine wrote first.
const CAS_PAUSE: Duration = Duration::from_millis(20);
/// A renewal that failed this recently on another machine is not tried again here.
const FAILURE_FRESH: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// What taking the lease came to.
pub(crate) enum LeaseOutcome {
    /// Ours: call the provider. `took_over`: from a holder whose lease
    /// expired, which may still store what it got.
    Held { took_over: bool },
    /// Another machine stored a newer token (or logged out) meanwhile; it is served now.
    Adopted,
}

/// Where a grant being stored comes from, which decides what it may replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A renewal: stored only over the token it renewed.
    Renewal,
    /// A login the user just made: it replaces whatever Vault holds.
    Login,
    /// The journal's grant, replayed at a start: a renewal's only over the
    /// token it renewed, a login's only over an older token.
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
    /// Refused: the record (at its version) holds a token someone stored
    /// meanwhile, served instead.
    Refused(Box<TokenRecord>, u64),
}

/// A lease seen while waiting, and since when (this machine's clock).
struct Sighting {
    holder: String,
    fence: u64,
    since: Instant,
}

impl Sighting {
    /// Whether `lease` still binds: seen held for less than the configured
    /// lease, by this machine's clock (the holder's wall clock may be off).
    fn binds(sighting: &mut Option<Sighting>, lease: &Lease, shared: &Shared) -> bool {
        let fresh = !sighting.as_ref().is_some_and(|s| s.holder == lease.holder && s.fence == lease.fence);
        if fresh {
            *sighting = Some(Sighting { holder: lease.holder.clone(), fence: lease.fence, since: Instant::now() });
        }
        sighting.as_ref().is_some_and(|s| s.since.elapsed() < shared.lease_std())
    }
}

impl Engine {
    /// Takes the account's lease before its token `ours` is renewed, or
    /// adopts what another machine stored, or takes its failure. Waits
    /// while another daemon holds the lease.
    pub(crate) async fn take_lease(
        &self,
        id: &str,
        account: &AccountConfig,
        ours: &TokenMeta,
    ) -> Result<LeaseOutcome, EngineError> {
        let Some(shared) = self.shared() else { return Ok(LeaseOutcome::Held { took_over: false }) };
        let path = tokens_path(id);
        let started = Instant::now();
        let patience = LOCK_TIMEOUT.max(shared.lease_std() + Duration::from_secs(5));
        let mut sighting: Option<Sighting> = None;
        let mut told = false;
        let mut took_over = false;
        loop {
            let (mut record, version) = read_record(shared, id, &path).await?;
            if !record.belongs_to(account) {
                return Err(foreign(id, account, &record));
            }
            // Another machine stored a token after ours, or logged it out
            // (Vault's versions order the machines' writes; their clocks may disagree).
            if record.is_logout() || record.token_meta().is_some_and(|m| m != *ours) {
                self.adopt_record(id, record, version).await?;
                return Ok(LeaseOutcome::Adopted);
            }
            if record.refusals >= account.credential_tries() {
                return Err(EngineError::StoppedBeforeLockout {
                    account: id.to_owned(),
                    rejected: record.refusals,
                    fix: account.credentials_fix(),
                });
            }
            if let Some(lease) = record.lease.as_ref().filter(|l| l.holder != shared.holder) {
                if Sighting::binds(&mut sighting, lease, shared) {
                    if started.elapsed() > patience {
                        let why = format!(
                            "{} has held the renewal in Vault for over {}s; is it stuck?",
                            said(&lease.holder),
                            patience.as_secs()
                        );
                        return Err(EngineError::Unavailable { account: id.to_owned(), why });
                    }
                    if !told {
                        tracing::info!(account = id, holder = %said(&lease.holder), "another machine is renewing this token; waiting for it");
                        told = true;
                    }
                    tokio::time::sleep(LEASE_POLL).await;
                    continue;
                }
                tracing::warn!(account = id, holder = %said(&lease.holder), fence = lease.fence, "taking over a lease that expired (its holder stopped mid-renewal?)");
                took_over = true;
            }
            // The renewal another machine just tried failed: its answer is
            // ours (if this machine waited for it, or it is seconds old by
            // either side's clock: a clock far off only costs a call).
            let now = self.now();
            if let Some(failed) = record.failed.as_ref().filter(|f| {
                record.lease.is_none()
                    && f.by != shared.holder
                    && (sighting.as_ref().is_some_and(|s| s.fence == f.fence)
                        || (tokentray_core::add_span(f.at, FAILURE_FRESH) > now
                            && f.at < tokentray_core::add_span(now, FAILURE_FRESH)))
            }) {
                return Err(EngineError::FailedElsewhere {
                    account: id.to_owned(),
                    by: said(&failed.by),
                    class: failed.class,
                    message: said(&failed.message),
                });
            }
            record.fence = record.fence.saturating_add(1);
            record.lease = Some(Lease {
                holder: shared.holder.clone(),
                fence: record.fence,
                expires_at: tokentray_core::add_span(self.now(), shared.lease),
            });
            match shared.client.write(&path, &record.to_map(), Some(version)).await {
                Ok(written) => {
                    lock(&shared.held).insert(id.to_owned(), Held { parent: *ours, fence: record.fence, grant: None });
                    shared.saw(id, written);
                    return Ok(LeaseOutcome::Held { took_over });
                }
                Err(VaultError::CasMismatch { .. }) if started.elapsed() < patience => {
                    tokio::time::sleep(CAS_PAUSE).await;
                }
                Err(e) => {
                    shared.failed(&e);
                    return Err(store_error(e));
                }
            }
        }
    }

    /// Gives the lease back when the renewal it was taken for failed, with
    /// the broker's answer for the other machines (and its refusal of the
    /// credentials counted), so none of them calls again for it.
    pub(crate) async fn release_lease(&self, id: &str, failure: Option<&EngineError>) {
        let Some(shared) = self.shared() else { return };
        let Some(held) = lock(&shared.held).remove(id) else { return };
        let path = tokens_path(id);
        for _ in 0..5 {
            let Ok(Some(read)) = shared.client.read(&path).await else { return };
            let mut record = parse_record(id, read.data);
            if record.lease.as_ref().is_none_or(|l| l.holder != shared.holder || l.fence != held.fence) {
                return;
            }
            record.lease = None;
            // Only the broker's own word is theirs to take (not a local missing secret).
            if let Some((e, class)) = failure.and_then(|e| e.class().map(|c| (e, c))) {
                record.failed = Some(FailedRenewal {
                    by: shared.holder.clone(),
                    fence: held.fence,
                    class,
                    message: e.to_string(),
                    at: self.now(),
                });
                if e.is_credentials_refusal() {
                    record.refusals = record.refusals.saturating_add(1);
                }
            }
            match shared.client.write(&path, &record.to_map(), Some(read.version)).await {
                Ok(written) => return shared.saw(id, written),
                Err(VaultError::CasMismatch { .. }) => tokio::time::sleep(CAS_PAUSE).await,
                Err(e) => return tracing::debug!(account = id, "the lease is left to expire: {e}"),
            }
        }
    }

    /// New credentials: the refusals every machine counted, and the last
    /// failure they would take as theirs, are forgotten.
    pub(crate) async fn reset_shared_refusals(&self, id: &str) -> Result<(), EngineError> {
        let Some(shared) = self.shared() else { return Ok(()) };
        let path = tokens_path(id);
        for _ in 0..5 {
            let Some(read) = shared.client.read(&path).await.map_err(store_error)? else { return Ok(()) };
            let mut record = parse_record(id, read.data);
            if record.refusals == 0 && record.failed.is_none() {
                return Ok(());
            }
            (record.refusals, record.failed) = (0, None);
            match shared.client.write(&path, &record.to_map(), Some(read.version)).await {
                Ok(_) => return Ok(()),
                Err(VaultError::CasMismatch { .. }) => tokio::time::sleep(CAS_PAUSE).await,
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(store_error(VaultError::CasMismatch { path }))
    }

    /// After the broker called this renewal's refresh token spent: whether
    /// another machine's renewal spent it (its token is then served here).
    /// After a takeover, the holder whose lease expired may still be storing
    /// its token: it is waited for, up to a lease.
    pub(crate) async fn adopt_if_renewed_elsewhere(&self, id: &str, renewed: &TokenMeta, took_over: bool) -> bool {
        let Some(shared) = self.shared() else { return false };
        let until = Instant::now() + if took_over { shared.lease_std() } else { Duration::ZERO };
        loop {
            if let Ok(Some(read)) = shared.client.read(&tokens_path(id)).await {
                let record = parse_record(id, read.data);
                if record.token_meta().is_some_and(|m| m != *renewed) {
                    return self.adopt_record(id, record, read.version).await.unwrap_or(false);
                }
            }
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    /// Stores a new grant in Vault by its origin (see the file's comment).
    pub(crate) async fn store_shared(
        &self,
        id: &str,
        account: &AccountConfig,
        grant: &Grant,
        origin: Origin,
    ) -> Result<Saved, EngineError> {
        let Some(shared) = self.shared() else { return Ok(Saved::Stored) };
        let path = tokens_path(id);
        // The token it must replace: a renewal's (or a replayed renewal's) parent.
        let held = match origin {
            Origin::Renewal | Origin::Replay => lock(&shared.held).get_mut(id).map(|h| {
                // Its save, if it fails, is retried as this renewal's.
                h.grant = Some(grant.meta);
                *h
            }),
            Origin::Login => {
                shared.forget_renewal(id);
                None
            }
        };
        let started = Instant::now();
        let patience = LOCK_TIMEOUT.max(shared.lease_std() * 2 + Duration::from_secs(5));
        let mut sighting: Option<Sighting> = None;
        let mut told = false;
        loop {
            let (mut record, version) = read_record(shared, id, &path).await?;
            let theirs = record.token_meta();
            // Stored already (an answer lost on the way back).
            if theirs == Some(grant.meta) {
                shared.done_with(id, grant);
                shared.saw(id, version);
                return Ok(Saved::Stored);
            }
            let superseded = match (origin, held) {
                (Origin::Login, _) => false,
                (_, Some(held)) => record.is_logout() || theirs.is_some_and(|m| m != held.parent),
                // A replayed login: only over an older token (the one place clocks compare).
                (_, None) => record.is_logout() || theirs.is_some_and(|m| m.issued_at >= grant.meta.issued_at),
            };
            if superseded {
                shared.done_with(id, grant);
                let by = said(record.stored_by.as_deref().or(record.logged_out_by.as_deref()).unwrap_or("?"));
                tracing::warn!(account = id, by, "another machine stored a token after the one this renewal replaced: Vault keeps that one, which is served here");
                return Ok(Saved::Refused(Box::new(record), version));
            }
            // The lease was taken over and its holder is still renewing: its outcome decides.
            if let (Some(held), Some(lease)) = (held, record.lease.as_ref()) {
                if lease.holder != shared.holder
                    && lease.fence > held.fence
                    && Sighting::binds(&mut sighting, lease, shared)
                {
                    if started.elapsed() > patience {
                        return Err(EngineError::Unavailable {
                            account: id.to_owned(),
                            why: format!(
                                "{} holds this renewal's lease; the token is kept to store later",
                                said(&lease.holder)
                            ),
                        });
                    }
                    if !told {
                        tracing::warn!(account = id, taken_over_by = %said(&lease.holder), fence = lease.fence, ours = held.fence, "this renewal's lease was taken over (a stale fencing number): waiting for what the new holder stores");
                        told = true;
                    }
                    tokio::time::sleep(LEASE_POLL).await;
                    continue;
                }
            }
            record.store(grant, account, &shared.holder, held.is_some());
            match shared.client.write(&path, &record.to_map(), Some(version)).await {
                Ok(written) => {
                    shared.done_with(id, grant);
                    shared.saw(id, written);
                    self.write_access_copy(id, grant, written).await;
                    return Ok(Saved::Stored);
                }
                Err(VaultError::CasMismatch { .. }) if started.elapsed() < patience => {
                    tracing::debug!(account = id, "another machine wrote the record first; reading it again");
                    tokio::time::sleep(CAS_PAUSE).await;
                }
                Err(e) => {
                    shared.failed(&e);
                    return Err(store_error(e));
                }
            }
        }
    }

    /// The copy bots read (no refresh token), unless a newer one is there
    /// already. A failure only delays it to the next token.
    async fn write_access_copy(&self, id: &str, grant: &Grant, record_version: u64) {
        let Some(shared) = self.shared() else { return };
        let path = access_path(id);
        if let Ok(Some(current)) = shared.client.read(&path).await {
            let newer = current.data.get("record_version").and_then(serde_json::Value::as_u64);
            if newer.is_some_and(|v| v > record_version) {
                return;
            }
        }
        if let Err(e) = shared.client.replace(&path, &AccessCopy::of(grant, record_version).to_map()).await {
            tracing::warn!(account = id, "the bots' copy of the new token is not in Vault: {e}");
        }
    }
}

/// The account's record and its version (0: none yet), noting Vault's health.
async fn read_record(shared: &Shared, id: &str, path: &str) -> Result<(TokenRecord, u64), EngineError> {
    let read = shared.client.read(path).await.inspect_err(|e| shared.failed(e)).map_err(store_error)?;
    shared.ok();
    Ok(match read {
        Some(v) => (parse_record(id, v.data), v.version),
        None => (TokenRecord::default(), 0),
    })
}

/// A record of another provider or app under the same account id.
fn foreign(id: &str, account: &AccountConfig, record: &TokenRecord) -> EngineError {
    let why = format!(
        "the token in Vault for `{id}` belongs to {} with api key {}, not {} with {}: every machine sharing Vault \
         must name the same app for an account id (or use another prefix)",
        record.provider.as_deref().unwrap_or("?"),
        record.client_id.as_deref().unwrap_or("?"),
        account.provider.as_str(),
        account.api_key
    );
    super::store_error(VaultError::Foreign { why })
}

impl EngineError {
    /// The broker itself refused the app's credentials (counted towards its lock-out).
    pub(crate) fn is_credentials_refusal(&self) -> bool {
        matches!(self, Self::CredentialsRejected { source, .. } if source.status.is_some())
    }
}

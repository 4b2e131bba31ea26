//! Several machines, one token (`storage = "vault"`). The lock file keeps
//! one refresher per machine; across machines the token record in Vault
//! carries a lease, taken with a check-and-set write before the provider
//! is called (`lease.rs`). Every daemon follows the record's version and
//! serves a new token as if it had renewed it itself (`follow.rs`). This
//! file holds what they share, the Vault token's upkeep and the status.

mod follow;
mod lease;

pub(crate) use lease::{LeaseOutcome, Origin, Saved};

use crate::plumbing::mutex::lock;
use crate::{Engine, EngineError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokentray_adapters::provider::Grant;
use tokentray_adapters::store::StoreError;
use tokentray_adapters::vault::{TokenRecord, TokenStanding, VaultClient, VaultError};
use tokentray_core::{Span, TokenMeta};

/// How often the Vault token's own expiry is looked at, at most.
const TOKEN_CHECK_EVERY: Duration = Duration::from_secs(300);
/// A token that cannot be renewed (further) is worth a warning this long before it ends.
const TOKEN_WARN_BEFORE: u64 = 24 * 3600;

/// The shared store as the engine uses it.
pub(crate) struct Shared {
    pub client: VaultClient,
    /// This daemon's name in leases: host, process and a per-start nonce.
    pub holder: String,
    lease: Span,
    poll: Duration,
    /// The record version each account was last seen at.
    seen: Mutex<HashMap<String, u64>>,
    /// The renewal this daemon holds the lease for, per account, until its
    /// token is stored (a save that Vault refused is retried under it).
    held: Mutex<HashMap<String, Held>>,
    health: Mutex<Health>,
}

/// A renewal of `parent` under the lease with fence `fence`, and its
/// grant once the broker gave it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    pub parent: TokenMeta,
    pub fence: u64,
    pub grant: Option<TokenMeta>,
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

impl Shared {
    pub fn new(client: VaultClient) -> Self {
        let config = client.config().clone();
        let nonce = tokentray_adapters::Secret::random(4);
        Self {
            holder: format!("{}/{}/{}", hostname(), std::process::id(), nonce.expose()),
            lease: config.lease,
            poll: config.poll.to_std().unwrap_or(Duration::from_secs(1)),
            client,
            seen: Mutex::default(),
            held: Mutex::default(),
            health: Mutex::default(),
        }
    }

    /// The lease as a duration of this machine's monotonic clock.
    fn lease_std(&self) -> Duration {
        self.lease.to_std().unwrap_or(Duration::from_secs(30))
    }

    /// Whether `grant` is the renewal this daemon holds `id`'s lease for
    /// (its save, if refused, is retried as a renewal).
    pub fn renews_with(&self, id: &str, grant: &TokenMeta) -> bool {
        lock(&self.held).get(id).is_some_and(|h| h.grant == Some(*grant))
    }

    /// Takes the renewal of `parent` this daemon replays from its journal:
    /// it is stored only over that token, as a renewal is.
    pub fn expect_parent(&self, id: &str, parent: TokenMeta) {
        lock(&self.held).insert(id.to_owned(), Held { parent, fence: 0, grant: None });
    }

    /// The renewal that gave `grant` is over (stored or refused): its entry
    /// goes, and nobody else's.
    fn done_with(&self, id: &str, grant: &Grant) {
        let mut held = lock(&self.held);
        if held.get(id).is_some_and(|h| h.grant.is_none_or(|g| g == grant.meta)) {
            held.remove(id);
        }
    }

    /// Forgets any renewal of `id` (a login or a logout replaced its token).
    pub fn forget_renewal(&self, id: &str) {
        lock(&self.held).remove(id);
    }

    /// The record version last seen for `id`.
    pub fn seen(&self, id: &str) -> u64 {
        lock(&self.seen).get(id).copied().unwrap_or(0)
    }

    fn saw(&self, id: &str, version: u64) {
        lock(&self.seen).insert(id.to_owned(), version);
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

/// How long the Vault token can last: renewals end at its max ttl.
fn lasts(t: &TokenStanding) -> Option<u64> {
    t.ttl?;
    match t.renewable {
        true => t.max_left,
        false => t.ttl,
    }
}

/// Whether the Vault token ends within a day, whatever renewals do.
fn ends_soon(t: &TokenStanding) -> bool {
    lasts(t).is_some_and(|left| left < TOKEN_WARN_BEFORE)
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

pub(crate) fn store_error(e: VaultError) -> EngineError {
    EngineError::Store(StoreError::from(e))
}

/// The record, or a blank one (with a warning) if it is not a token
/// record: renewals and logins then write a good one over it.
fn parse_record(id: &str, data: serde_json::Map<String, serde_json::Value>) -> TokenRecord {
    TokenRecord::from_map(data).unwrap_or_else(|e| {
        // serde's message may quote a value: only where it failed is said.
        tracing::warn!(
            account = id,
            "the token record in Vault is not one TokenTray wrote (line {}, column {}); it is written anew",
            e.line(),
            e.column()
        );
        TokenRecord::default()
    })
}

impl Engine {
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
            let half = standing.creation_ttl.unwrap_or(ttl.saturating_mul(2)) / 2;
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
        let was = lock(&shared.health).token.replace(standing);
        if ends_soon(&standing) && !was.as_ref().is_some_and(ends_soon) {
            tracing::warn!(
                "the Vault token ends within a day and cannot be renewed past that: give TokenTray a new one"
            );
        }
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
            // The token works; whether its policy lets it at the records is another matter.
            let first = self.slots().keys().next().cloned();
            let failing = lock(&shared.health).failing.is_some();
            if let (Some(id), false) = (first, failing) {
                if let Err(e) = shared.client.version(&tokentray_adapters::vault::tokens_path(&id)).await {
                    shared.failed(&e);
                }
            }
        }
        let health = lock(&shared.health).clone();
        let text = |secs: u64| tokentray_core::format_countdown(Span::seconds(secs as i64));
        let warning = health.token.filter(ends_soon).and_then(|t| lasts(&t)).map(|left| {
            format!(
                "the Vault token ends in {} and cannot be renewed past that: give TokenTray a new one before then",
                text(left)
            )
        });
        Some(SharedStatus {
            address: shared.client.config().address.to_string(),
            location: shared.client.location(),
            holder: shared.holder.clone(),
            failing: health.failing,
            token_ttl: health.token.and_then(|t| t.ttl),
            token_left: health.token.and_then(|t| t.ttl).map(text),
            token_renewable: health.token.map(|t| t.renewable),
            warning,
        })
    }
}

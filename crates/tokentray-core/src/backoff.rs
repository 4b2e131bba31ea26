//! How long an outage retry waits: exponential with deterministic jitter,
//! `Retry-After` honoured, and capped by what is left of the token's life.

use crate::{Instant, Span};
use serde::{Deserialize, Serialize};

/// How a failed refresh is retried: `attempts` tries in all, the wait doubling
/// from `base` up to `max`, each wait spread by ±20 % so that many accounts (or
/// many users of one provider) do not retry in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub attempts: u8,
    pub base: Span,
    pub max: Span,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 3, base: Span::seconds(10), max: Span::minutes(5) }
    }
}

/// The shortest wait after a rate-limit answer: asking again sooner only extends the limit.
const RATE_LIMIT_FLOOR: Span = Span::seconds(60);

impl RetryPolicy {
    /// The wait after the `failures`-th consecutive failure (1-based).
    ///
    /// Jitter is derived from `seed` (the account's) and the attempt rather than
    /// from a random source, which keeps the core pure and its tests exact.
    pub fn delay(&self, failures: u8, seed: u64, rate_limited: bool) -> Span {
        let exp = u32::from(failures.saturating_sub(1)).min(20);
        let nominal = self.base.checked_mul(1 << exp).unwrap_or(self.max).min(self.max);
        let fraction = (splitmix64(seed ^ u64::from(failures)) >> 11) as f64 / (1u64 << 53) as f64;
        let factor = 0.8 + 0.4 * fraction;
        let jittered = Span::milliseconds((nominal.num_milliseconds() as f64 * factor) as i64);
        if rate_limited {
            jittered.max(RATE_LIMIT_FLOOR)
        } else {
            jittered
        }
    }
}

/// While the access token still works, a retry comes at the latest after a
/// third of its remaining life, so several tries land before it dies...
const RETRY_SHARE_OF_REMAINING: i32 = 3;
/// ...but never closer than this.
const MIN_RETRY: Span = Span::seconds(2);
/// Once the access token is dead, scripts are failing: retry at least this often.
const DEAD_TOKEN_RETRY_CAP: Span = Span::seconds(30);
/// A `Retry-After` longer than this is read as a mistake, not an instruction.
const MAX_RETRY_AFTER: Span = Span::hours(1);

/// The wait before retrying a refresh that failed through an outage: the
/// policy's `backoff`, capped so that retries keep landing before the
/// access token dies (or come often once it is dead), and never sooner than
/// the provider asked (`Retry-After`).
pub(crate) fn outage_retry_delay(
    backoff: Span,
    access_expires: Option<Instant>,
    retry_after: Option<Span>,
    now: Instant,
) -> Span {
    let cap = match access_expires {
        Some(expires) if now < expires => ((expires - now) / RETRY_SHARE_OF_REMAINING).max(MIN_RETRY),
        _ => DEAD_TOKEN_RETRY_CAP,
    };
    let delay = backoff.min(cap).max(MIN_RETRY);
    match retry_after {
        Some(asked) => delay.max(asked.clamp(Span::zero(), MAX_RETRY_AFTER)),
        None => delay,
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A stable seed for an account's jitter: FNV-1a over its id.
pub(crate) fn seed_for(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_twenty_percent_and_stop_at_max() {
        let p = RetryPolicy::default();
        for seed in [0, 1, 42, u64::MAX] {
            for (failures, nominal) in [(1u8, 10_000i64), (2, 20_000), (3, 40_000), (10, 300_000)] {
                let d = p.delay(failures, seed, false).num_milliseconds();
                assert!(d >= nominal * 8 / 10 && d <= nominal * 12 / 10, "{failures}: {d}");
            }
        }
    }

    #[test]
    fn jitter_differs_between_accounts() {
        let p = RetryPolicy::default();
        assert_ne!(p.delay(1, seed_for("kite-main"), false), p.delay(1, seed_for("upstox"), false));
    }

    #[test]
    fn rate_limits_wait_at_least_a_minute() {
        assert!(RetryPolicy::default().delay(1, 7, true) >= Span::seconds(60));
    }
}

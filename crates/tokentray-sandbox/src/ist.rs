//! India Standard Time (UTC+05:30 all year), in which the Indian brokers end
//! their tokens.

use chrono::{DateTime, FixedOffset, Utc};

pub fn offset() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 1800).expect("IST offset")
}

/// The first `hour:minute` IST strictly after `t`.
pub fn next(t: DateTime<Utc>, hour: u32, minute: u32) -> DateTime<Utc> {
    let local = t.with_timezone(&offset());
    let at = local.date_naive().and_hms_opt(hour, minute, 0).expect("valid time");
    let today = at.and_local_timezone(offset()).single().expect("fixed offset").to_utc();
    if today > t {
        today
    } else {
        today + chrono::TimeDelta::days(1)
    }
}

/// How long tokens of `client_id` live in this sandbox, from `now`: its
/// configured lifetime, or the provider's rule.
pub fn expiry(
    config: &crate::SandboxConfig,
    client_id: &str,
    now: DateTime<Utc>,
    rule: impl FnOnce(DateTime<Utc>) -> DateTime<Utc>,
) -> DateTime<Utc> {
    match config.access_ttl_for(client_id) {
        Some(ttl) => now + chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::days(1)),
        None => rule(now),
    }
}

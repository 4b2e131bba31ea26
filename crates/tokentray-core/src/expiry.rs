//! When tokens die, by each provider's published rule.
//!
//! Kite and Upstox tokens die at a fixed time of day in India (IST, which has no
//! daylight saving), so the rule is a [`DailyCutoff`]. OAuth2 tokens carry a
//! relative `expires_in` that must be made absolute on receipt.
//!
//! Sources: Kite's 06:00 rollover, Kite Connect v3 docs "User" page
//! (<https://kite.trade/docs/connect/v3/user/>); Upstox's 03:30 cutoff and the
//! JWT `exp`, the Upstox get-token docs
//! (<https://upstox.com/developer/api-documentation/get-token>); Schwab's
//! 7 days from the login, alexgolec/schwab-py `docs/auth.rst`.

use crate::{add_span, Instant, Span};
use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use serde::{Deserialize, Serialize};

/// India Standard Time, UTC+05:30 all year (India has no daylight saving), so
/// a fixed offset is the whole zone.
fn kolkata() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("+05:30 is a valid offset")
}

/// A time of day in IST at which a provider invalidates every token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyCutoff {
    pub hour: u8,
    pub minute: u8,
}

/// Kite: "will expire at 6 AM on the next day (regulatory requirement)".
pub const KITE_CUTOFF: DailyCutoff = DailyCutoff { hour: 6, minute: 0 };
/// Upstox: valid "until 3:30 AM the following day, regardless of the time it was generated".
pub const UPSTOX_CUTOFF: DailyCutoff = DailyCutoff { hour: 3, minute: 30 };
/// Schwab's refresh token stops working 7 days after the original login.
pub const SCHWAB_REFRESH_LIMIT: Span = Span::days(7);
/// Fyers: every access token seen dies at 06:00 IST after its issue
/// (docs/providers/fyers.md; the JWT's `exp` is read first).
pub const FYERS_CUTOFF: DailyCutoff = DailyCutoff { hour: 6, minute: 0 };
/// Breeze: the API session lasts the day, until midnight IST at the latest
/// (docs/providers/breeze.md).
pub const BREEZE_CUTOFF: DailyCutoff = DailyCutoff { hour: 0, minute: 0 };
/// E*TRADE: an access token idle this long goes inactive until renewed
/// (docs/providers/etrade.md).
pub const ETRADE_IDLE_LIMIT: Span = Span::hours(2);
/// How long a token whose lifetime cannot be read is assumed to live: the
/// daily tokens here live about a day, and validation finds out the truth.
pub const ASSUMED_DAILY_LIFETIME: Span = Span::hours(24);

impl DailyCutoff {
    /// The first cutoff strictly after `t`.
    pub fn next_after(self, t: Instant) -> Instant {
        let local = t.with_timezone(&kolkata());
        let time = NaiveTime::from_hms_opt(u32::from(self.hour), u32::from(self.minute), 0)
            .expect("cutoff constants are valid times of day");
        let today = ist(local.date_naive().and_time(time));
        if today > t {
            today
        } else {
            ist((local.date_naive() + chrono::Days::new(1)).and_time(time))
        }
    }
}

/// A trading session in IST, during which a renewal that ends the token in
/// use (Dhan's) would cut off every bot holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketHours {
    pub opens: DailyCutoff,
    pub closes: DailyCutoff,
}

/// NSE's session: pre-open from 09:00, trading until 15:30 IST
/// (<https://www.nseindia.com/market-data/market-timings>).
pub const NSE_HOURS: MarketHours =
    MarketHours { opens: DailyCutoff { hour: 9, minute: 0 }, closes: DailyCutoff { hour: 15, minute: 30 } };

impl MarketHours {
    /// `t`, or, when it falls in the session, the minute before that day's
    /// session opens.
    pub fn outside(self, t: Instant) -> Instant {
        let local = t.with_timezone(&kolkata());
        let at = |c: DailyCutoff| {
            let time = NaiveTime::from_hms_opt(u32::from(c.hour), u32::from(c.minute), 0).expect("valid time of day");
            ist(local.date_naive().and_time(time))
        };
        let (opens, closes) = (at(self.opens), at(self.closes));
        if opens <= t && t < closes {
            opens - Span::minutes(1)
        } else {
            t
        }
    }
}

fn ist(naive: NaiveDateTime) -> Instant {
    // A fixed offset has no gaps or folds: every local time is exactly one instant.
    kolkata().from_local_datetime(&naive).single().expect("a fixed offset maps one to one").to_utc()
}

/// The first midnight in New York (US Eastern, daylight saving included)
/// strictly after `t`: when every E*TRADE access token dies, and IBKR's
/// North American region ends every gateway session.
pub fn new_york_midnight_after(t: Instant) -> Instant {
    midnight_after(chrono_tz::America::New_York, t)
}

/// The first midnight in `zone` strictly after `t`.
pub fn midnight_after(zone: chrono_tz::Tz, t: Instant) -> Instant {
    let next_day = t.with_timezone(&zone).date_naive() + chrono::Days::new(1);
    // New York, Zurich and Hong Kong change their clocks at 02:00 or 03:00;
    // a zone whose midnight is skipped starts that day an hour later.
    let local = next_day.and_time(NaiveTime::MIN);
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| zone.from_local_datetime(&(local + chrono::TimeDelta::hours(1))).earliest())
        .expect("a day starts within its first hour")
        .to_utc()
}

/// Where IBKR resets a gateway's session at midnight: "New York, U.S.;
/// Zug, Switzerland; or Hong Kong time depending on your nearest
/// connection" (docs/providers/ibkr.md). The account's exchange's zone says
/// which is nearest: Europe's and Africa's are Zug's (Europe/Zurich), Asia's
/// and Oceania's Hong Kong's; anything else New York's.
pub fn ibkr_reset_zone(exchange_zone: Option<chrono_tz::Tz>) -> chrono_tz::Tz {
    let name = exchange_zone.map_or("", |z| z.name());
    if name.starts_with("Europe/") || name.starts_with("Africa/") {
        chrono_tz::Europe::Zurich
    } else if ["Asia/", "Australia/", "Pacific/"].iter().any(|p| name.starts_with(p)) {
        chrono_tz::Asia::Hong_Kong
    } else {
        chrono_tz::America::New_York
    }
}

/// An E*TRADE access token stops working at the first of: midnight US
/// Eastern, or two hours without a call (TokenTray's renewal is one).
pub fn etrade_expiry(renewed_at: Instant) -> Instant {
    add_span(renewed_at, ETRADE_IDLE_LIMIT).min(new_york_midnight_after(renewed_at))
}

/// How long a gateway session is taken to stay alive after a tickle:
/// IBKR asks for one about every minute (its sessions time out after about
/// five idle minutes), so a session renewed at this life's end is tickled
/// about once a minute.
pub const IBKR_TICKLE_LIFE: Span = Span::seconds(70);

/// An IBKR gateway session, just tickled: alive for a minute more, and no
/// later than the region's midnight `reset`, whatever `ssoExpires` says
/// (milliseconds, when given).
pub fn ibkr_expiry(tickled_at: Instant, sso_expires_ms: Option<i64>, reset: Instant) -> Instant {
    let sso = sso_expires_ms.filter(|&ms| ms > 0).map(|ms| add_span(tickled_at, Span::milliseconds(ms)));
    let alive = add_span(tickled_at, IBKR_TICKLE_LIFE);
    sso.map_or(alive, |s| s.min(alive)).min(reset)
}

/// Parses Kite's `login_time` ("YYYY-MM-DD HH:MM:SS", IST) into an instant.
pub fn parse_kite_login_time(s: &str) -> Option<Instant> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").ok().map(ist)
}

/// A Kite access token dies at the first 06:00 IST after the login.
pub fn kite_expiry(login_at: Instant) -> Instant {
    KITE_CUTOFF.next_after(login_at)
}

/// An Upstox access token dies at its JWT `exp` when that can be read, else at
/// the first 03:30 IST after it was issued.
pub fn upstox_expiry(issued_at: Instant, jwt_exp: Option<i64>) -> Instant {
    jwt_exp
        .and_then(|exp| chrono::DateTime::from_timestamp(exp, 0))
        .unwrap_or_else(|| UPSTOX_CUTOFF.next_after(issued_at))
}

/// A Fyers refresh token stops working at 06:00 IST on the 15th day after
/// the login (the one published sample: issued 18 Feb 10:58, dead 5 Mar 06:00).
pub fn fyers_refresh_limit(login_at: Instant) -> Instant {
    FYERS_CUTOFF.next_after(add_span(login_at, Span::days(14)))
}

/// A token's expiry from its JWT `exp` (Fyers, Angel One, Dhan), when that
/// can be read and lies after `issued_at` and within a year of it; else `fallback`.
pub fn jwt_expiry(issued_at: Instant, jwt_exp: Option<i64>, fallback: Instant) -> Instant {
    jwt_exp
        .and_then(|exp| chrono::DateTime::from_timestamp(exp, 0))
        .filter(|&at| at > issued_at && at - issued_at <= Span::seconds(MAX_EXPIRES_IN))
        .unwrap_or(fallback)
}

/// Parses an IST wall-clock time without a zone, as Dhan writes it
/// (`2025-09-23T12:37:23`, or with a space), into an instant.
pub fn parse_ist_datetime(s: &str) -> Option<Instant> {
    let s = s.trim();
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(ist)
}

/// An `expires_in` of zero or less is read as this many seconds: the token
/// is renewed soon (the lifecycle keeps refreshes apart), never in a loop.
pub const MIN_EXPIRES_IN: i64 = 60;
/// An `expires_in` above a year is read as a year: no access token lives that
/// long, and it keeps every instant in the calendar's range.
pub const MAX_EXPIRES_IN: i64 = 366 * 86_400;

/// `expires_in` is relative to the response; TokenTray stores the absolute
/// instant, with absurd values brought into range rather than trusted.
pub fn oauth2_expiry(received_at: Instant, expires_in_secs: i64) -> Instant {
    let secs = if expires_in_secs <= 0 { MIN_EXPIRES_IN } else { expires_in_secs.min(MAX_EXPIRES_IN) };
    add_span(received_at, Span::seconds(secs))
}

/// An IST calendar date and time, for tests and the sandbox.
pub fn ist_datetime(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Instant {
    ist(NaiveDate::from_ymd_opt(y, mo, d).and_then(|d| d.and_hms_opt(h, mi, 0)).expect("valid date"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kite_token_dies_at_six_the_next_morning() {
        let login = ist_datetime(2026, 11, 26, 9, 15);
        assert_eq!(kite_expiry(login), ist_datetime(2026, 11, 27, 6, 0));
    }

    #[test]
    fn kite_login_before_six_dies_the_same_morning() {
        assert_eq!(kite_expiry(ist_datetime(2026, 11, 26, 5, 10)), ist_datetime(2026, 11, 26, 6, 0));
        assert_eq!(kite_expiry(ist_datetime(2026, 11, 26, 6, 0)), ist_datetime(2026, 11, 27, 6, 0));
    }

    #[test]
    fn kite_login_time_is_read_as_ist() {
        let t = parse_kite_login_time("2026-11-26 09:15:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-26T03:45:00+00:00");
        assert!(parse_kite_login_time("26/11/2026").is_none());
    }

    #[test]
    fn upstox_token_made_at_two_thirty_dies_at_three_thirty_the_same_day() {
        let issued = ist_datetime(2026, 11, 26, 2, 30);
        assert_eq!(upstox_expiry(issued, None), ist_datetime(2026, 11, 26, 3, 30));
        let issued = ist_datetime(2026, 11, 26, 14, 0);
        assert_eq!(upstox_expiry(issued, None), ist_datetime(2026, 11, 27, 3, 30));
    }

    #[test]
    fn upstox_jwt_exp_wins_over_the_rule() {
        let issued = ist_datetime(2026, 11, 26, 14, 0);
        assert_eq!(upstox_expiry(issued, Some(1_800_000_000)).timestamp(), 1_800_000_000);
    }

    #[test]
    fn a_jwt_exp_is_believed_only_when_it_makes_sense() {
        let issued = ist_datetime(2026, 11, 26, 9, 0);
        let fallback = issued + ASSUMED_DAILY_LIFETIME;
        let exp = ist_datetime(2026, 11, 27, 6, 0);
        assert_eq!(jwt_expiry(issued, Some(exp.timestamp()), fallback), exp);
        assert_eq!(jwt_expiry(issued, None, fallback), fallback);
        assert_eq!(jwt_expiry(issued, Some(issued.timestamp() - 60), fallback), fallback, "already past");
        assert_eq!(jwt_expiry(issued, Some(i64::MAX), fallback), fallback, "out of the calendar");
        assert_eq!(jwt_expiry(issued, Some(issued.timestamp() + 5 * 366 * 86_400), fallback), fallback);
    }

    #[test]
    fn a_fyers_refresh_token_dies_at_six_on_the_fifteenth_day() {
        let login = ist_datetime(2026, 2, 18, 10, 58);
        assert_eq!(fyers_refresh_limit(login), ist_datetime(2026, 3, 5, 6, 0));
        assert_eq!(fyers_refresh_limit(ist_datetime(2026, 2, 18, 5, 0)), ist_datetime(2026, 3, 4, 6, 0));
    }

    #[test]
    fn a_time_in_the_session_moves_before_the_open() {
        assert_eq!(NSE_HOURS.outside(ist_datetime(2026, 11, 26, 13, 30)), ist_datetime(2026, 11, 26, 8, 59));
        assert_eq!(NSE_HOURS.outside(ist_datetime(2026, 11, 26, 9, 0)), ist_datetime(2026, 11, 26, 8, 59));
        for free in
            [ist_datetime(2026, 11, 26, 8, 59), ist_datetime(2026, 11, 26, 15, 30), ist_datetime(2026, 11, 26, 2, 0)]
        {
            assert_eq!(NSE_HOURS.outside(free), free);
        }
    }

    #[test]
    fn dhan_times_are_read_as_ist() {
        let t = parse_ist_datetime("2025-09-23T12:37:23").unwrap();
        assert_eq!(t.to_rfc3339(), "2025-09-23T07:07:23+00:00");
        assert_eq!(parse_ist_datetime("2025-09-23 12:37:23.5").unwrap().timestamp(), t.timestamp());
        assert!(parse_ist_datetime("23/09/2025 12:37").is_none());
    }

    #[test]
    fn an_etrade_token_dies_at_midnight_in_new_york_or_after_two_idle_hours() {
        let utc = |d, h, mi| chrono::Utc.with_ymd_and_hms(2026, 11, d, h, mi, 0).unwrap();
        // 12 Nov 2026, EST (UTC-5): midnight is 05:00 UTC on the 13th.
        assert_eq!(new_york_midnight_after(utc(12, 15, 0)), utc(13, 5, 0));
        assert_eq!(etrade_expiry(utc(12, 15, 0)), utc(12, 17, 0), "idle first");
        assert_eq!(etrade_expiry(utc(13, 4, 0)), utc(13, 5, 0), "midnight first");
        assert_eq!(new_york_midnight_after(utc(13, 5, 0)), utc(14, 5, 0), "strictly after");
        // 1 Jul 2026, EDT (UTC-4): midnight is 04:00 UTC.
        let july = chrono::Utc.with_ymd_and_hms(2026, 7, 1, 20, 0, 0).unwrap();
        assert_eq!(new_york_midnight_after(july), chrono::Utc.with_ymd_and_hms(2026, 7, 2, 4, 0, 0).unwrap());
        // The night the clocks go back (1 Nov 2026): still the next midnight.
        let fall = chrono::Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
        assert_eq!(new_york_midnight_after(fall), utc(2, 5, 0));
    }

    #[test]
    fn an_ibkr_session_is_tickled_within_a_minute_and_ends_at_the_reset() {
        let t = chrono::Utc.with_ymd_and_hms(2026, 11, 12, 15, 0, 0).unwrap();
        let ny = new_york_midnight_after;
        assert_eq!(ibkr_expiry(t, Some(460_311), ny(t)), t + IBKR_TICKLE_LIFE);
        assert_eq!(ibkr_expiry(t, Some(30_000), ny(t)), t + Span::seconds(30), "the gateway's word when sooner");
        assert_eq!(ibkr_expiry(t, None, ny(t)), t + IBKR_TICKLE_LIFE);
        let before_reset = chrono::Utc.with_ymd_and_hms(2026, 11, 13, 4, 59, 30).unwrap();
        let reset = chrono::Utc.with_ymd_and_hms(2026, 11, 13, 5, 0, 0).unwrap();
        assert_eq!(ibkr_expiry(before_reset, Some(460_311), ny(before_reset)), reset);
        // The region's midnight: Zug's (CET, UTC+1) and Hong Kong's (UTC+8).
        let zug = ibkr_reset_zone(Some(chrono_tz::Europe::London));
        assert_eq!(midnight_after(zug, t), chrono::Utc.with_ymd_and_hms(2026, 11, 12, 23, 0, 0).unwrap());
        let hk = ibkr_reset_zone(Some(chrono_tz::Asia::Kolkata));
        assert_eq!(midnight_after(hk, t), chrono::Utc.with_ymd_and_hms(2026, 11, 12, 16, 0, 0).unwrap());
        assert_eq!(ibkr_reset_zone(None), chrono_tz::America::New_York);
        assert_eq!(ibkr_reset_zone(Some(chrono_tz::America::New_York)), chrono_tz::America::New_York);
    }

    #[test]
    fn oauth2_expiry_is_absolute() {
        let t = ist_datetime(2026, 11, 26, 14, 0);
        assert_eq!(oauth2_expiry(t, 1800), t + Span::minutes(30));
    }

    #[test]
    fn absurd_expires_in_values_are_brought_into_range() {
        let t = ist_datetime(2026, 11, 26, 14, 0);
        assert_eq!(oauth2_expiry(t, 0), t + Span::seconds(MIN_EXPIRES_IN));
        assert_eq!(oauth2_expiry(t, -5), t + Span::seconds(MIN_EXPIRES_IN));
        assert_eq!(oauth2_expiry(t, i64::MAX), t + Span::seconds(MAX_EXPIRES_IN));
    }
}

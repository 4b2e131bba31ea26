//! Exchanges' trading days and sessions: weekends, holidays, early closes,
//! in the exchange's own time zone (NYSE keeps daylight saving, NSE does not).
//!
//! The data comes from a file (the adapters read it); this module only
//! answers questions about it, so the reminders built on it are pure.

use crate::Instant;
use chrono::{Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One exchange's calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// As users write it, upper case: `NSE`, `NYSE`.
    pub name: String,
    pub zone: Tz,
    /// The regular session, in `zone`.
    pub opens: NaiveTime,
    pub closes: NaiveTime,
    /// Weekdays the exchange is closed, with the holiday's name.
    pub holidays: BTreeMap<NaiveDate, String>,
    /// Days the session ends early, and when.
    pub early_closes: BTreeMap<NaiveDate, NaiveTime>,
    /// Years whose holidays are all listed. In another year only weekends
    /// are known, which `lists` lets the user be told about.
    pub listed_years: BTreeSet<i32>,
}

/// One trading day's session as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub date: NaiveDate,
    pub opens: Instant,
    pub closes: Instant,
}

/// How far ahead a session is looked for: a year of holidays cannot be longer.
const SEARCH_DAYS: u64 = 370;

impl Exchange {
    pub fn is_trading_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains_key(&date)
    }

    /// Whether `year`'s holidays are known (else only weekends are).
    pub fn lists(&self, year: i32) -> bool {
        self.listed_years.contains(&year)
    }

    /// The instant `time` on `date` in the exchange's zone. A time that a
    /// daylight-saving change skips is moved an hour forward (02:30 on the
    /// spring-forward night is 03:30); one it repeats is the earlier.
    pub fn at(&self, date: NaiveDate, time: NaiveTime) -> Instant {
        local_instant(self.zone, date, time)
    }

    pub fn session_on(&self, date: NaiveDate) -> Option<Session> {
        if !self.is_trading_day(date) {
            return None;
        }
        let closes = self.early_closes.get(&date).copied().unwrap_or(self.closes);
        Some(Session { date, opens: self.at(date, self.opens), closes: self.at(date, closes) })
    }

    /// The session in progress at `t`, else the next one to open.
    pub fn session_at_or_after(&self, t: Instant) -> Option<Session> {
        let today = t.with_timezone(&self.zone).date_naive();
        (0..SEARCH_DAYS)
            .filter_map(|d| today.checked_add_days(Days::new(d)))
            .filter_map(|date| self.session_on(date))
            .find(|s| s.closes > t)
    }

    pub fn in_session(&self, t: Instant) -> bool {
        self.session_at_or_after(t).is_some_and(|s| s.opens <= t)
    }
}

/// `time` on `date` in `zone`; see [`Exchange::at`].
pub(crate) fn local_instant(zone: Tz, date: NaiveDate, time: NaiveTime) -> Instant {
    let local = date.and_time(time);
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.to_utc(),
        // Zones skip whole hours (but Lord Howe); a last resort reads the time as UTC.
        LocalResult::None => zone
            .from_local_datetime(&(local + chrono::TimeDelta::hours(1)))
            .earliest()
            .map_or_else(|| zone.from_utc_datetime(&local).to_utc(), |t| t.to_utc()),
    }
}

/// Every exchange known, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    exchanges: BTreeMap<String, Arc<Exchange>>,
}

impl Calendar {
    pub fn new(exchanges: impl IntoIterator<Item = Exchange>) -> Self {
        Self { exchanges: exchanges.into_iter().map(|e| (e.name.clone(), Arc::new(e))).collect() }
    }

    /// The exchange named `name`, in any case.
    pub fn exchange(&self, name: &str) -> Option<Arc<Exchange>> {
        self.exchanges.get(&name.to_ascii_uppercase()).cloned()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.exchanges.keys().map(String::as_str)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    pub fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    pub fn nse() -> Exchange {
        Exchange {
            name: "NSE".into(),
            zone: chrono_tz::Asia::Kolkata,
            opens: time(9, 15),
            closes: time(15, 30),
            holidays: [(date(2026, 11, 24), "Guru Nanak Jayanti".to_owned())].into(),
            early_closes: BTreeMap::new(),
            listed_years: [2026].into(),
        }
    }

    pub fn nyse() -> Exchange {
        Exchange {
            name: "NYSE".into(),
            zone: chrono_tz::America::New_York,
            opens: time(9, 30),
            closes: time(16, 0),
            holidays: [(date(2026, 11, 26), "Thanksgiving Day".to_owned())].into(),
            early_closes: [(date(2026, 11, 27), time(13, 0))].into(),
            listed_years: [2026].into(),
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Instant {
        chrono::Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn weekends_and_holidays_have_no_session() {
        let nse = nse();
        assert!(nse.session_on(date(2026, 11, 28)).is_none(), "Saturday");
        assert!(nse.session_on(date(2026, 11, 24)).is_none(), "a holiday");
        let s = nse.session_on(date(2026, 11, 23)).unwrap();
        assert_eq!((s.opens, s.closes), (utc(2026, 11, 23, 3, 45), utc(2026, 11, 23, 10, 0)));
    }

    #[test]
    fn the_next_session_skips_weekends_and_holidays() {
        let nse = nse();
        // Monday 23rd after the close: Tuesday is a holiday, so Wednesday.
        assert_eq!(nse.session_at_or_after(utc(2026, 11, 23, 11, 0)).unwrap().date, date(2026, 11, 25));
        // During a session: that session.
        let during = utc(2026, 11, 25, 5, 0);
        assert_eq!(nse.session_at_or_after(during).unwrap().date, date(2026, 11, 25));
        assert!(nse.in_session(during));
        assert!(!nse.in_session(utc(2026, 11, 28, 5, 0)));
    }

    #[test]
    fn nyse_follows_daylight_saving_and_early_closes() {
        let nyse = nyse();
        // 09:30 EDT in July is 13:30 UTC; in November (EST) 14:30 UTC.
        assert_eq!(nyse.session_on(date(2026, 7, 7)).unwrap().opens, utc(2026, 7, 7, 13, 30));
        assert_eq!(nyse.session_on(date(2026, 11, 23)).unwrap().opens, utc(2026, 11, 23, 14, 30));
        assert_eq!(nyse.session_on(date(2026, 11, 27)).unwrap().closes, utc(2026, 11, 27, 18, 0));
    }

    #[test]
    fn a_time_the_clock_skips_is_read_after_the_gap() {
        // New York skips 02:00-03:00 on 2026-03-08.
        assert_eq!(nyse().at(date(2026, 3, 8), time(2, 30)), utc(2026, 3, 8, 7, 30));
        assert_eq!(nyse().at(date(2026, 11, 1), time(1, 30)), utc(2026, 11, 1, 5, 30), "the earlier of a fold");
    }

    #[test]
    fn names_are_found_in_any_case() {
        let c = Calendar::new([nse(), nyse()]);
        assert_eq!(c.exchange("nse").unwrap().name, "NSE");
        assert!(c.exchange("LSE").is_none());
    }
}

//! Exchange calendars as files: TokenTray's own (`data/calendar.toml`,
//! compiled in, with the source of each list) and the user's, which adds
//! holidays and early closes to an exchange or defines a new one.
//!
//! Reading is all-or-nothing, like the config: an error names the file, the
//! line and what to write.

use super::error::{line_column, ConfigError};
use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use tokentray_core::calendar::{Calendar, Exchange};
use toml::value::Datetime;
use toml::Spanned;

/// A calendar of many exchanges and years is a few kilobytes.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The calendar shipped with TokenTray.
pub const BUILT_IN: &str = include_str!("../../data/calendar.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default, rename = "exchange")]
    exchanges: Vec<Spanned<RawExchange>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExchange {
    name: String,
    time_zone: Option<String>,
    opens: Option<String>,
    closes: Option<String>,
    #[serde(default)]
    listed_years: Vec<i32>,
    #[serde(default)]
    holidays: Vec<RawHoliday>,
    #[serde(default)]
    early_closes: Vec<RawEarlyClose>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    date: Datetime,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEarlyClose {
    date: Datetime,
    closes: String,
}

/// The shipped calendar.
pub fn built_in() -> Calendar {
    Calendar::new(shipped())
}

fn shipped() -> Vec<Exchange> {
    read(BUILT_IN, Path::new("the built-in calendar"), BTreeMap::new()).expect("the shipped calendar reads")
}

fn by_name(exchanges: Vec<Exchange>) -> BTreeMap<String, Exchange> {
    exchanges.into_iter().map(|e| (e.name.clone(), e)).collect()
}

/// The shipped calendar with the user's file at `path` read over it.
pub fn with_user_file(path: &Path) -> Result<Calendar, ConfigError> {
    let unreadable = |source| ConfigError::Read { path: path.to_owned(), source };
    // A regular file of sane size: a FIFO or a device named here must not hang the start.
    let text = crate::atomic::read_regular(path, MAX_FILE_BYTES)
        .map_err(unreadable)?
        .ok_or_else(|| unreadable(std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")))?;
    Ok(Calendar::new(read(&text, path, by_name(shipped()))?))
}

/// The exchanges of `text` read over `base`: a known exchange gains the
/// holidays, early closes and listed years, and takes the zone and hours
/// given; a new one must give them all.
fn read(text: &str, path: &Path, mut base: BTreeMap<String, Exchange>) -> Result<Vec<Exchange>, ConfigError> {
    let invalid = |at: usize, message: String| {
        let (line, column) = line_column(text, at);
        ConfigError::Invalid { path: path.to_owned(), line, column, message }
    };
    let raw: RawFile =
        toml::from_str(text).map_err(|e| invalid(e.span().map_or(0, |s| s.start), e.message().to_owned()))?;
    for spanned in raw.exchanges {
        let at = spanned.span().start;
        let raw = spanned.into_inner();
        let name = raw.name.trim().to_ascii_uppercase();
        let fail = |m: String| invalid(at, format!("exchange `{name}`: {m}"));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(fail("name: use letters and digits, e.g. \"NSE\"".to_owned()));
        }
        let zone = raw
            .time_zone
            .map(|z| {
                z.parse::<Tz>().map_err(|_| fail(format!("time_zone `{z}` is not a zone name like \"Asia/Kolkata\"")))
            })
            .transpose()?;
        let opens = raw.opens.map(|t| time_of_day(&t).map_err(|m| fail(format!("opens: {m}")))).transpose()?;
        let closes = raw.closes.map(|t| time_of_day(&t).map_err(|m| fail(format!("closes: {m}")))).transpose()?;
        let exchange = match base.remove(&name) {
            Some(known) => Exchange {
                zone: zone.unwrap_or(known.zone),
                opens: opens.unwrap_or(known.opens),
                closes: closes.unwrap_or(known.closes),
                ..known
            },
            None => {
                let (Some(zone), Some(opens), Some(closes)) = (zone, opens, closes) else {
                    return Err(fail("a new exchange needs time_zone, opens and closes".to_owned()));
                };
                Exchange {
                    name: name.clone(),
                    zone,
                    opens,
                    closes,
                    holidays: BTreeMap::new(),
                    early_closes: BTreeMap::new(),
                    listed_years: Default::default(),
                }
            }
        };
        let mut exchange = exchange;
        if exchange.opens >= exchange.closes {
            return Err(fail("opens must come before closes".to_owned()));
        }
        exchange.listed_years.extend(raw.listed_years);
        for h in raw.holidays {
            let date = date_of(&h.date).map_err(|m| fail(format!("holidays: {m}")))?;
            exchange.holidays.insert(date, h.name);
        }
        for e in raw.early_closes {
            let date = date_of(&e.date).map_err(|m| fail(format!("early_closes: {m}")))?;
            let closes = time_of_day(&e.closes).map_err(|m| fail(format!("early_closes on {date}: {m}")))?;
            if closes <= exchange.opens {
                return Err(fail(format!("early_closes on {date}: {closes} is not after the open")));
            }
            exchange.early_closes.insert(date, closes);
        }
        base.insert(name, exchange);
    }
    Ok(base.into_values().collect())
}

/// `HH:MM`, as the config writes times of day.
pub fn time_of_day(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| format!("`{text}` is not a time like \"08:45\""))
}

fn date_of(d: &Datetime) -> Result<NaiveDate, String> {
    match (d.date, d.time) {
        (Some(date), None) => NaiveDate::from_ymd_opt(i32::from(date.year), u32::from(date.month), u32::from(date.day))
            .ok_or_else(|| format!("{d} is not a date")),
        _ => Err(format!("{d}: write a date alone, like 2026-11-24")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_calendar_reads_with_every_list() {
        let c = built_in();
        let nse = c.exchange("NSE").unwrap();
        assert_eq!(nse.holidays.len(), 16);
        assert!(nse.lists(2026) && !nse.lists(2027), "NSE's 2027 list is not published yet");
        assert!(!nse.is_trading_day(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()));
        assert_eq!(c.exchange("BSE").unwrap().holidays, nse.holidays, "BSE closes on NSE's days");
        let nyse = c.exchange("NYSE").unwrap();
        assert!(nyse.lists(2027));
        assert_eq!(nyse.early_closes.len(), 3);
        // Every holiday listed is a weekday: a weekend one would be a typo.
        for e in [nse, nyse] {
            for date in e.holidays.keys() {
                assert!(chrono::Datelike::weekday(date).num_days_from_monday() < 5, "{} {date}", e.name);
            }
        }
    }

    #[test]
    fn a_users_file_adds_to_a_known_exchange_and_defines_new_ones() {
        let text = r#"
[[exchange]]
name = "nse"
listed_years = [2027]
holidays = [{ date = 2027-01-26, name = "Republic Day" }]

[[exchange]]
name = "LSE"
time_zone = "Europe/London"
opens = "08:00"
closes = "16:30"
"#;
        let c = Calendar::new(read(text, Path::new("mine.toml"), by_name(shipped())).unwrap());
        let nse = c.exchange("NSE").unwrap();
        assert_eq!(nse.holidays.len(), 17, "added to the shipped ones");
        assert!(nse.lists(2026) && nse.lists(2027));
        assert_eq!(c.exchange("LSE").unwrap().zone, chrono_tz::Europe::London);
    }

    #[cfg(unix)]
    #[test]
    fn a_user_file_that_is_not_a_regular_file_is_refused_at_once() {
        let dir = tokentray_testkit::scratch("calendar-fifo");
        let fifo = dir.join("calendar.toml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = with_user_file(&fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(with_user_file(&dir.join("missing.toml")).unwrap_err().is_missing_file());
    }

    #[test]
    fn mistakes_name_the_line_and_the_fix() {
        let cases = [
            ("[[exchange]]\nname = \"X\"\n", "needs time_zone, opens and closes"),
            ("[[exchange]]\nname = \"NSE\"\ntime_zone = \"India\"\n", "not a zone name"),
            ("[[exchange]]\nname = \"NSE\"\nopens = \"9.15\"\n", "not a time like"),
            ("[[exchange]]\nname = \"NSE\"\nopens = \"16:00\"\n", "opens must come before closes"),
            ("[[exchange]]\nname = \"NSE\"\nholidays = [{ date = 2026-02-30 }]\n", ""),
            ("[[exchange]]\nname = \"NSE\"\nholidays = [{ date = 2026-11-24T10:00:00 }]\n", "a date alone"),
            (
                "[[exchange]]\nname = \"NSE\"\nearly_closes = [{ date = 2026-11-27, closes = \"08:00\" }]\n",
                "not after the open",
            ),
            ("[[exchange]]\nname = \"N S E\"\n", "use letters and digits"),
            ("[[exchange]]\nname = \"NSE\"\nholiday = []\n", "unknown field"),
        ];
        for (text, says) in cases {
            let e = read(text, Path::new("mine.toml"), by_name(shipped())).unwrap_err().to_string();
            assert!(e.starts_with("mine.toml:"), "{e}");
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}

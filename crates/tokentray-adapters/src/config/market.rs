//! What the config says about the market day: the calendar (`[market]`),
//! quiet hours (`[notifications]`), and each account's exchange and
//! reminder time. Defaults follow the provider: NSE for the Indian brokers,
//! NYSE for Schwab, none for a generic OAuth2 provider; the reminder comes
//! 30 minutes before the exchange opens (08:45 IST for NSE).

use super::calendar_file;
use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tokentray_core::calendar::Calendar;
use tokentray_core::{ProviderKind, QuietHours, ReminderPlan, Span};

/// `[market]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMarket {
    /// The user's calendar file, read over the shipped one.
    calendar: Option<PathBuf>,
}

/// `[notifications]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotifications {
    /// `"22:00-07:00"`: notices wait then, unless they cannot (see `tokentray_core::hold_until`).
    quiet_hours: Option<String>,
    /// The zone of `quiet_hours`; this machine's by default.
    time_zone: Option<String>,
}

/// How long before the open the reminder comes by default.
pub const DEFAULT_REMINDER_LEAD: Span = Span::minutes(30);

/// The shipped calendar, with the user's file (relative to the config's
/// directory) read over it.
pub(crate) fn calendar(raw: Option<&RawMarket>, config_path: &Path) -> Result<Calendar, super::error::ConfigError> {
    match raw.and_then(|m| m.calendar.as_ref()) {
        None => Ok(calendar_file::built_in()),
        Some(file) => {
            let file = crate::paths::expand_home(file);
            let file = match config_path.parent() {
                Some(dir) if file.is_relative() => dir.join(file),
                _ => file,
            };
            calendar_file::with_user_file(&file)
        }
    }
}

pub(crate) fn quiet_hours(raw: Option<&RawNotifications>) -> Result<Option<QuietHours>, String> {
    let Some(raw) = raw else { return Ok(None) };
    let Some(text) = raw.quiet_hours.as_deref() else {
        return match raw.time_zone {
            Some(_) => Err("time_zone is the zone of quiet_hours: set quiet_hours = \"22:00-07:00\" too".to_owned()),
            None => Ok(None),
        };
    };
    let (from, to) =
        text.split_once('-').ok_or_else(|| format!("quiet_hours: `{text}` is not a period like \"22:00-07:00\""))?;
    let from = calendar_file::time_of_day(from).map_err(|m| format!("quiet_hours: {m}"))?;
    let to = calendar_file::time_of_day(to).map_err(|m| format!("quiet_hours: {m}"))?;
    if from == to {
        return Err("quiet_hours: the period is empty; remove it to have none".to_owned());
    }
    let zone = match raw.time_zone.as_deref() {
        Some(z) => zone(z).map_err(|m| format!("time_zone: {m}"))?,
        None => system_zone().ok_or_else(|| {
            "cannot tell this machine's time zone for quiet_hours: set time_zone = \"Asia/Kolkata\" (or yours)"
                .to_owned()
        })?,
    };
    Ok(Some(QuietHours { from, to, zone }))
}

fn zone(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| format!("`{name}` is not a zone name like \"Asia/Kolkata\""))
}

/// This machine's time zone, if it can be told.
pub fn system_zone() -> Option<Tz> {
    iana_time_zone::get_timezone().ok().and_then(|z| z.parse().ok())
}

/// An account's market settings, resolved against the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountMarket {
    /// The exchange whose trading days the account follows, if any.
    pub exchange: Option<String>,
    /// When the pre-market reminder comes, in the exchange's zone; `None`: no reminder.
    pub remind_at: Option<NaiveTime>,
    /// The exchange's time zone (where a broker's own clock may follow it: IBKR's region).
    pub zone: Option<Tz>,
}

/// `exchange` and `remind_at` as an account writes them (`"none"`, `"off"`
/// turn them off).
pub(crate) fn account_market(
    provider: ProviderKind,
    exchange: Option<&str>,
    remind_at: Option<&str>,
    calendar: &Calendar,
) -> Result<AccountMarket, String> {
    let name = match exchange.map(str::trim) {
        Some(n) if n.eq_ignore_ascii_case("none") => None,
        Some(n) => Some(n.to_owned()),
        None => provider.describe().exchange.map(str::to_owned),
    };
    let found = match &name {
        Some(n) => Some(calendar.exchange(n).ok_or_else(|| {
            let known: Vec<&str> = calendar.names().collect();
            format!("exchange `{n}` is not in the calendar (known: {}; or \"none\")", known.join(", "))
        })?),
        None => None,
    };
    let remind_at = match (remind_at.map(str::trim), &found) {
        (Some(off), _) if off.eq_ignore_ascii_case("off") => None,
        (Some(_), None) => return Err("remind_at needs an exchange whose trading days it follows".to_owned()),
        (Some(t), Some(_)) => Some(calendar_file::time_of_day(t).map_err(|m| format!("remind_at: {m}"))?),
        (None, Some(e)) => Some(e.opens - DEFAULT_REMINDER_LEAD),
        (None, None) => None,
    };
    Ok(AccountMarket { exchange: found.as_ref().map(|e| e.name.clone()), remind_at, zone: found.map(|e| e.zone) })
}

impl AccountMarket {
    /// The reminder machine's plan, with the exchange from `calendar`.
    pub fn plan(&self, calendar: &Calendar) -> Option<ReminderPlan> {
        let exchange = calendar.exchange(self.exchange.as_deref()?)?;
        Some(ReminderPlan { exchange, at: self.remind_at? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn each_provider_follows_its_market_with_a_reminder_before_the_open() {
        let c = calendar_file::built_in();
        let kite = account_market(ProviderKind::Kite, None, None, &c).unwrap();
        let kolkata = Some(chrono_tz::Asia::Kolkata);
        let new_york = Some(chrono_tz::America::New_York);
        assert_eq!(kite, AccountMarket { exchange: Some("NSE".into()), remind_at: Some(t(8, 45)), zone: kolkata });
        let schwab = account_market(ProviderKind::Schwab, None, None, &c).unwrap();
        assert_eq!(schwab, AccountMarket { exchange: Some("NYSE".into()), remind_at: Some(t(9, 0)), zone: new_york });
        let oauth = account_market(ProviderKind::OAuth2, None, None, &c).unwrap();
        assert_eq!(oauth, AccountMarket { exchange: None, remind_at: None, zone: None });
        let own = account_market(ProviderKind::OAuth2, Some("nyse"), Some("08:00"), &c).unwrap();
        assert_eq!(own, AccountMarket { exchange: Some("NYSE".into()), remind_at: Some(t(8, 0)), zone: new_york });
        let off = account_market(ProviderKind::Kite, None, Some("off"), &c).unwrap();
        assert_eq!(off.remind_at, None);
        assert_eq!(account_market(ProviderKind::Kite, Some("none"), None, &c).unwrap().exchange, None);
    }

    #[test]
    fn wrong_market_settings_say_what_to_write() {
        let c = calendar_file::built_in();
        let e = account_market(ProviderKind::Kite, Some("LSE"), None, &c).unwrap_err();
        assert!(e.contains("not in the calendar") && e.contains("NSE, NYSE"), "{e}");
        assert!(account_market(ProviderKind::Kite, None, Some("8.45"), &c).unwrap_err().contains("not a time"));
        assert!(account_market(ProviderKind::OAuth2, None, Some("08:45"), &c)
            .unwrap_err()
            .contains("needs an exchange"));
    }

    #[test]
    fn quiet_hours_read_as_a_period_in_a_zone() {
        let raw = |q: Option<&str>, z: Option<&str>| RawNotifications {
            quiet_hours: q.map(str::to_owned),
            time_zone: z.map(str::to_owned),
        };
        let q = quiet_hours(Some(&raw(Some("22:00-07:00"), Some("Asia/Kolkata")))).unwrap().unwrap();
        assert_eq!((q.from, q.to, q.zone), (t(22, 0), t(7, 0), chrono_tz::Asia::Kolkata));
        assert_eq!(quiet_hours(None).unwrap(), None);
        assert!(quiet_hours(Some(&raw(Some("22-07"), Some("UTC")))).unwrap_err().contains("not a time"));
        assert!(quiet_hours(Some(&raw(Some("22:00"), Some("UTC")))).unwrap_err().contains("not a period"));
        assert!(quiet_hours(Some(&raw(Some("07:00-07:00"), Some("UTC")))).unwrap_err().contains("empty"));
        assert!(quiet_hours(Some(&raw(Some("22:00-07:00"), Some("Mars")))).unwrap_err().contains("not a zone"));
        assert!(quiet_hours(Some(&raw(None, Some("UTC")))).unwrap_err().contains("set quiet_hours"));
    }
}

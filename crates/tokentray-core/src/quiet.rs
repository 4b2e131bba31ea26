//! Quiet hours and snooze: which notices may wait for the end of a silence
//! the user asked for, and which must reach them now.
//!
//! The rule: what can wait, waits; what cannot is sent. A red warning goes
//! out when its act-by time comes before the silence ends and a login now
//! would still save the token; nothing red is silenced past its act-by.
//! A dead token goes out while its market is open (or at once for an account
//! with no market), else at the open at the latest; the pre-market reminder
//! goes out when the market opens before the silence ends.

use crate::calendar::local_instant;
use crate::{Instant, NoticeKind};
use chrono::{Days, NaiveTime};
use chrono_tz::Tz;

/// A daily period, in a time zone, during which notices wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub from: NaiveTime,
    /// May be before `from`: the period runs over midnight.
    pub to: NaiveTime,
    pub zone: Tz,
}

impl QuietHours {
    /// The end of the quiet period `t` falls in, if it falls in one.
    pub fn end_if_inside(&self, t: Instant) -> Option<Instant> {
        // At the calendar's ends a zone's local time does not exist: no quiet there.
        if t.checked_add_signed(chrono::TimeDelta::days(2)).is_none()
            || t.checked_sub_signed(chrono::TimeDelta::days(2)).is_none()
        {
            return None;
        }
        let local = t.with_timezone(&self.zone);
        let (date, time) = (local.date_naive(), local.time());
        let end_day = if self.from < self.to {
            (self.from <= time && time < self.to).then_some(date)
        } else if time >= self.from {
            date.checked_add_days(Days::new(1))
        } else {
            (time < self.to).then_some(date)
        }?;
        Some(local_instant(self.zone, end_day, self.to)).filter(|&end| end > t)
    }
}

/// When the silence holding at `now` ends (a snooze, quiet hours, or one
/// running into the other), or `None` when nothing silences notices.
pub fn silence_end(quiet: Option<&QuietHours>, snoozed_until: Option<Instant>, now: Instant) -> Option<Instant> {
    let mut end = snoozed_until.filter(|&t| t > now);
    // A snooze ending inside quiet hours runs on to their end, and the
    // other way round; two steps cover every overlap of the two.
    for _ in 0..2 {
        let at = end.unwrap_or(now);
        if let Some(q) = quiet.and_then(|q| q.end_if_inside(at)) {
            end = Some(q);
        }
        if let Some(s) = snoozed_until.filter(|&s| end.is_some_and(|e| s > e)) {
            end = Some(s);
        }
    }
    end
}

/// What is at stake for an account when a notice about it comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stakes {
    /// When the user must act, if there is such a moment.
    pub act_by: Option<Instant>,
    /// Whether a login now would move `act_by`: not for a daily token before
    /// its provider's cutoff, which ends a new token at the same moment.
    pub login_helps: bool,
    /// Whether scripts need the token now: its market is in session, or the
    /// account follows no market.
    pub needed_now: bool,
    /// When its market next opens; `None` for an account with no market.
    pub next_open: Option<Instant>,
}

/// When a notice that comes during a silence ending at `silence_end` should
/// go out: `None` for now.
pub fn hold_until(kind: &NoticeKind, stakes: &Stakes, silence_end: Instant) -> Option<Instant> {
    let before_open = stakes.next_open.map_or(silence_end, |open| open.min(silence_end));
    match kind {
        NoticeKind::Red { .. } if stakes.login_helps && stakes.act_by.is_some_and(|at| at <= silence_end) => None,
        NoticeKind::Expired
        | NoticeKind::TokenRejected
        | NoticeKind::LoginNeeded { .. }
        | NoticeKind::RefreshFailed { .. }
        | NoticeKind::MarketOpen => (!stakes.needed_now).then_some(before_open),
        NoticeKind::LoginBeforeOpen { .. } | NoticeKind::IpNotRegistered { .. } if before_open < silence_end => None,
        _ => Some(silence_end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::tests::{date, nse, time};
    use crate::Span;

    fn ist(d: u32, h: u32, m: u32) -> Instant {
        nse().at(date(2026, 11, d), time(h, m))
    }

    fn night() -> QuietHours {
        QuietHours { from: time(22, 0), to: time(7, 0), zone: chrono_tz::Asia::Kolkata }
    }

    #[test]
    fn quiet_hours_run_over_midnight() {
        let q = night();
        assert_eq!(q.end_if_inside(ist(23, 23, 0)), Some(ist(24, 7, 0)));
        assert_eq!(q.end_if_inside(ist(24, 3, 0)), Some(ist(24, 7, 0)));
        assert_eq!(q.end_if_inside(ist(24, 7, 0)), None);
        assert_eq!(q.end_if_inside(ist(24, 12, 0)), None);
        let nap = QuietHours { from: time(13, 0), to: time(14, 0), ..q };
        assert_eq!(nap.end_if_inside(ist(24, 13, 30)), Some(ist(24, 14, 0)));
        assert_eq!(nap.end_if_inside(ist(24, 14, 30)), None);
    }

    #[test]
    fn the_ends_of_the_calendar_do_not_panic() {
        let q = night();
        assert_eq!(q.end_if_inside(Instant::MAX_UTC), None);
        assert_eq!(q.end_if_inside(Instant::MIN_UTC), None);
        assert_eq!(silence_end(Some(&q), Some(Instant::MAX_UTC), ist(24, 3, 0)), Some(Instant::MAX_UTC));
    }

    #[test]
    fn a_snooze_and_quiet_hours_join() {
        let q = night();
        assert_eq!(silence_end(Some(&q), None, ist(24, 12, 0)), None);
        assert_eq!(silence_end(None, Some(ist(24, 13, 0)), ist(24, 12, 0)), Some(ist(24, 13, 0)));
        assert_eq!(silence_end(None, Some(ist(24, 11, 0)), ist(24, 12, 0)), None, "a snooze that ended");
        // Snoozed at 21:30 for an hour: into the night, so until 07:00.
        assert_eq!(silence_end(Some(&q), Some(ist(23, 22, 30)), ist(23, 21, 30)), Some(ist(24, 7, 0)));
        // Snoozed at 06:30 until 08:00: past the quiet hours' end.
        assert_eq!(silence_end(Some(&q), Some(ist(24, 8, 0)), ist(24, 6, 30)), Some(ist(24, 8, 0)));
    }

    fn stakes(act_by: Option<Instant>, login_helps: bool, needed_now: bool) -> Stakes {
        Stakes { act_by, login_helps, needed_now, next_open: Some(ist(24, 9, 15)) }
    }

    #[test]
    fn nothing_red_is_silenced_past_its_act_by() {
        let end = ist(24, 7, 0);
        let red = NoticeKind::Red { remaining: Span::hours(1) };
        // A Schwab refresh limit at 02:00: a login now saves it.
        assert_eq!(hold_until(&red, &stakes(Some(ist(24, 2, 0)), true, false), end), None);
        // A Kite token dying at 06:00: a login now would die at 06:00 too.
        assert_eq!(hold_until(&red, &stakes(Some(ist(24, 6, 0)), false, false), end), Some(end));
        // Act-by after the silence: it can wait.
        assert_eq!(hold_until(&red, &stakes(Some(ist(24, 8, 0)), true, false), end), Some(end));
        let orange = NoticeKind::Orange { remaining: Span::hours(2) };
        assert_eq!(hold_until(&orange, &stakes(Some(ist(24, 2, 0)), true, false), end), Some(end));
    }

    #[test]
    fn a_dead_token_waits_only_while_its_market_is_shut() {
        let end = ist(24, 7, 0);
        assert_eq!(hold_until(&NoticeKind::Expired, &stakes(None, true, false), end), Some(end));
        assert_eq!(hold_until(&NoticeKind::TokenRejected, &stakes(None, true, true), end), None);
        // A silence past the open ends for it at the open.
        let late = ist(24, 10, 0);
        assert_eq!(hold_until(&NoticeKind::Expired, &stakes(None, true, false), late), Some(ist(24, 9, 15)));
        let no_market = Stakes { next_open: None, ..stakes(None, true, true) };
        assert_eq!(hold_until(&NoticeKind::LoginNeeded { remaining: None }, &no_market, end), None);
    }

    #[test]
    fn the_pre_market_reminder_is_sent_when_the_market_opens_first() {
        let reminder = NoticeKind::LoginBeforeOpen { opens_in: Span::minutes(30) };
        assert_eq!(hold_until(&reminder, &stakes(None, true, false), ist(24, 8, 0)), Some(ist(24, 8, 0)));
        assert_eq!(hold_until(&reminder, &stakes(None, true, false), ist(24, 10, 0)), None);
    }
}

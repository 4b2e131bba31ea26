//! The pre-market reminder: on a trading day, if an account has no token
//! that lasts the session, remind at a set time before the open and again
//! at the open. A pure machine like `Lifecycle` (`poll`, `next_wake`), kept
//! beside it because it follows the exchange's calendar, not the token.

use crate::calendar::{Exchange, Session};
use crate::{Instant, Notice, NoticeKind};
use chrono::{NaiveDate, NaiveTime};
use std::sync::Arc;

/// When an account's user wants to be reminded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderPlan {
    pub exchange: Arc<Exchange>,
    /// In the exchange's time zone; at or after the open it is the open.
    pub at: NaiveTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    BeforeOpen,
    AtOpen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    plan: ReminderPlan,
    /// The last reminder moment handled, whether or not it told anything.
    done: Option<(NaiveDate, Stage)>,
}

impl Reminder {
    pub fn new(plan: ReminderPlan) -> Self {
        Self { plan, done: None }
    }

    pub fn plan(&self) -> &ReminderPlan {
        &self.plan
    }

    /// Reminds if a moment has come. `lasts(t)` says whether the account's
    /// token works until `t` without the user. A reminder missed (asleep at
    /// 08:45, awake at 10:00) is one reminder, the one at the open, and none
    /// once the session is over. Returns the session's open when its
    /// before-open moment came now, whatever the token: the moment to check
    /// the rest of what trading needs (the static IP).
    pub fn poll(
        &mut self,
        now: Instant,
        lasts: impl FnOnce(Instant) -> bool,
        out: &mut Vec<Notice>,
    ) -> Option<Instant> {
        let session = self.plan.exchange.session_at_or_after(now)?;
        let stage = if now >= session.opens {
            Stage::AtOpen
        } else if now >= self.remind_at(&session) {
            Stage::BeforeOpen
        } else {
            return None;
        };
        if self.done.is_some_and(|d| d >= (session.date, stage)) {
            return None;
        }
        self.done = Some((session.date, stage));
        let before_open = (stage == Stage::BeforeOpen).then_some(session.opens);
        if lasts(session.closes) {
            return before_open;
        }
        let kind = match stage {
            Stage::BeforeOpen => NoticeKind::LoginBeforeOpen { opens_in: session.opens - now },
            Stage::AtOpen => NoticeKind::MarketOpen,
        };
        out.push(Notice { kind });
        before_open
    }

    /// The next reminder moment not yet handled.
    pub fn next_wake(&self, now: Instant) -> Option<Instant> {
        let exchange = &self.plan.exchange;
        let mut from = now;
        // At most two sessions: today's may be fully handled.
        for _ in 0..2 {
            let session = exchange.session_at_or_after(from)?;
            let moments = [(Stage::BeforeOpen, self.remind_at(&session)), (Stage::AtOpen, session.opens)];
            if let Some(&(_, at)) =
                moments.iter().find(|(stage, _)| self.done.is_none_or(|d| d < (session.date, *stage)))
            {
                return Some(at.max(now));
            }
            from = session.closes;
        }
        None
    }

    fn remind_at(&self, session: &Session) -> Instant {
        self.plan.exchange.at(session.date, self.plan.at).min(session.opens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::tests::{date, nse, time};

    fn ist(d: NaiveDate, h: u32, m: u32) -> Instant {
        nse().at(d, time(h, m))
    }

    fn reminder() -> Reminder {
        Reminder::new(ReminderPlan { exchange: Arc::new(nse()), at: time(8, 45) })
    }

    fn kinds(r: &mut Reminder, now: Instant, lasts: bool) -> Vec<NoticeKind> {
        let mut out = Vec::new();
        r.poll(now, |_| lasts, &mut out);
        out.into_iter().map(|n| n.kind).collect()
    }

    #[test]
    fn reminds_before_the_open_and_again_at_it() {
        let mut r = reminder();
        let monday = date(2026, 11, 23);
        assert!(kinds(&mut r, ist(monday, 8, 0), false).is_empty());
        assert_eq!(r.next_wake(ist(monday, 8, 0)), Some(ist(monday, 8, 45)));
        assert_eq!(
            kinds(&mut r, ist(monday, 8, 45), false),
            [NoticeKind::LoginBeforeOpen { opens_in: chrono::TimeDelta::minutes(30) }]
        );
        assert!(kinds(&mut r, ist(monday, 8, 50), false).is_empty(), "once");
        assert_eq!(r.next_wake(ist(monday, 8, 50)), Some(ist(monday, 9, 15)));
        assert_eq!(kinds(&mut r, ist(monday, 9, 15), false), [NoticeKind::MarketOpen]);
        // Tuesday the 24th is a holiday: next is Wednesday 08:45.
        assert_eq!(r.next_wake(ist(monday, 9, 16)), Some(ist(date(2026, 11, 25), 8, 45)));
    }

    #[test]
    fn a_token_that_lasts_the_session_is_not_reminded() {
        let mut r = reminder();
        let monday = date(2026, 11, 23);
        assert!(kinds(&mut r, ist(monday, 8, 45), true).is_empty());
        assert!(kinds(&mut r, ist(monday, 9, 15), true).is_empty());
    }

    #[test]
    fn a_missed_reminder_is_one_at_the_open_and_none_after_the_close() {
        let mut r = reminder();
        let monday = date(2026, 11, 23);
        assert_eq!(kinds(&mut r, ist(monday, 10, 0), false), [NoticeKind::MarketOpen]);
        assert!(kinds(&mut r, ist(monday, 10, 1), false).is_empty());
        let mut r = reminder();
        assert!(kinds(&mut r, ist(monday, 16, 0), false).is_empty(), "the session is over");
    }

    #[test]
    fn the_reminder_follows_the_lasts_question_to_the_close() {
        let mut r = reminder();
        let monday = date(2026, 11, 23);
        let mut asked = None;
        r.poll(
            ist(monday, 8, 45),
            |t| {
                asked = Some(t);
                true
            },
            &mut Vec::new(),
        );
        assert_eq!(asked, Some(ist(monday, 15, 30)));
    }
}

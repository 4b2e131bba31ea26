//! Quiet hours and the snooze in the running engine. A notice that may wait
//! (`tokentray_core::hold_until` decides) is held, the newest one per
//! account, and told when the silence ends, if the token it was about is
//! still the one held; one that cannot wait goes out at once.

use crate::Engine;
use std::collections::BTreeMap;
use tokentray_core::{add_span, hold_until, silence_end, Instant, Notice, NoticeKind, Span, Stakes, TokenMeta};

/// A moment for people, in this machine's time zone: the time alone on
/// the day of `now`, with the day otherwise (a snooze until tomorrow must
/// not read as today).
pub fn when(t: Instant, now: Instant) -> String {
    let local = t.with_timezone(&chrono::Local);
    if local.date_naive() == now.with_timezone(&chrono::Local).date_naive() {
        local.format("%H:%M").to_string()
    } else {
        local.format("%a %d %b %H:%M").to_string()
    }
}

/// The longest snooze: past it, notices go out again by themselves.
pub const MAX_SNOOZE: Span = Span::days(7);

#[derive(Debug, Default)]
pub(crate) struct Silence {
    /// Only an engine that runs on (its scheduler started) holds notices:
    /// a one-shot command would exit with them unsaid.
    pub(crate) holds: bool,
    snoozed_until: Option<Instant>,
    held: BTreeMap<String, Held>,
}

impl Silence {
    /// As the state file left it.
    pub(crate) fn snoozed_until(until: Option<Instant>, now: Instant) -> Self {
        // A state file written by hand or by another version: a week at most.
        let until = until.map(|t| t.min(add_span(now, MAX_SNOOZE)));
        Self { snoozed_until: until, ..Self::default() }
    }
}

#[derive(Debug)]
struct Held {
    notice: Notice,
    /// The token it was about: a login or renewal since makes it stale.
    token: Option<TokenMeta>,
    until: Instant,
}

impl Engine {
    /// Holds `notice` if the silence now lets it wait; true when held.
    pub(crate) fn held_back(&self, id: &str, notice: &Notice, now: Instant) -> bool {
        if !self.silence().holds {
            return false;
        }
        let Some(end) = self.silence_ends(now) else { return false };
        let Some((stakes, token)) = self.stakes(id, now) else { return false };
        let Some(until) = hold_until(&notice.kind, &stakes, end) else { return false };
        tracing::info!(account = id, until = %until, "held until the quiet ends: {}", notice.summary(id));
        self.silence().held.insert(id.to_owned(), Held { notice: notice.clone(), token, until });
        true
    }

    /// Tells what was held and may go now; returns when the next may.
    pub(crate) fn release_held(&self, now: Instant) -> Option<Instant> {
        let due: Vec<(String, Held)> = {
            let mut silence = self.silence();
            let ids: Vec<String> =
                silence.held.iter().filter(|(_, h)| h.until <= now).map(|(id, _)| id.clone()).collect();
            ids.into_iter().filter_map(|id| silence.held.remove(&id).map(|h| (id, h))).collect()
        };
        let mut notices = Vec::new();
        for (id, held) in due {
            let Ok((account, token, act_by)) =
                self.with_slot(&id, |s| (s.config.clone(), s.lifecycle.token().copied(), s.lifecycle.act_by(now)))
            else {
                continue;
            };
            if token != held.token {
                continue;
            }
            let mut notice = held.notice;
            // Said as it is now, not as it was when it was held.
            let until = |t: Option<Instant>| t.map_or(Span::zero(), |at| (at - now).max(Span::zero()));
            match &mut notice.kind {
                NoticeKind::Orange { remaining } | NoticeKind::Red { remaining } => *remaining = until(act_by),
                NoticeKind::LoginNeeded { remaining: Some(left) } => *left = until(token.map(|m| m.expires_at)),
                NoticeKind::LoginBeforeOpen { opens_in } => {
                    *opens_in = until(self.stakes(&id, now).and_then(|(s, _)| s.next_open));
                }
                _ => {}
            }
            // A snooze taken meanwhile may hold it longer.
            if !self.held_back(&id, &notice, now) {
                notices.push((account, notice));
            }
        }
        self.deliver(notices);
        self.silence().held.values().map(|h| h.until).min()
    }

    /// Snoozes notices for `span` from now, or resumes them (`None`).
    /// Returns when the snooze ends. Kept in the state file, so `status`
    /// and a restart know it.
    pub async fn snooze(&self, span: Option<Span>) -> Result<Option<Instant>, crate::EngineError> {
        let now = self.now();
        // A snooze is for a while: a week at most, whatever was asked.
        let until = span.map(|s| add_span(now, s.clamp(Span::zero(), MAX_SNOOZE)));
        self.update_state_file(|st| st.snoozed_until = until).await?;
        let quiet_end = silence_end(self.config().quiet_hours.as_ref(), None, now).unwrap_or(now);
        {
            let mut silence = self.silence();
            silence.snoozed_until = until;
            if until.is_none() {
                // Resumed: what the snooze held goes now, or when quiet hours end.
                for held in silence.held.values_mut() {
                    held.until = held.until.min(quiet_end);
                }
            }
        }
        match until {
            Some(at) => tracing::info!("notifications snoozed until {at}"),
            None => tracing::info!("notifications resumed"),
        }
        self.wake();
        Ok(until)
    }

    /// Until when notices wait, if they do now: the snooze, quiet hours, or both.
    pub fn silenced_until(&self) -> Option<Instant> {
        self.silence_ends(self.now())
    }

    /// Until when the snooze runs, if one does.
    pub fn snoozed_until(&self) -> Option<Instant> {
        let now = self.now();
        self.silence().snoozed_until.filter(|&t| t > now)
    }

    fn silence_ends(&self, now: Instant) -> Option<Instant> {
        let quiet = self.with_config(|c| c.quiet_hours);
        let snoozed = self.silence().snoozed_until;
        silence_end(quiet.as_ref(), snoozed, now)
    }

    /// What is at stake for `id` now, and the token a notice would be about.
    fn stakes(&self, id: &str, now: Instant) -> Option<(Stakes, Option<TokenMeta>)> {
        let exchange = self.with_config(|config| {
            let name = config.account(id)?.market.exchange.clone();
            name.and_then(|n| config.calendar.exchange(&n))
        });
        let session = exchange.as_ref().and_then(|e| e.session_at_or_after(now));
        self.with_slot(id, |s| {
            let stakes = Stakes {
                act_by: s.lifecycle.act_by(now),
                login_helps: s.lifecycle.login_helps(now),
                needed_now: exchange.is_none() || session.is_some_and(|x| x.opens <= now),
                next_open: session.map(|x| x.opens.max(now)),
            };
            (stakes, s.lifecycle.token().copied())
        })
        .ok()
    }
}

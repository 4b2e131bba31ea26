//! The one task that drives every lifecycle: it sleeps until the earliest due
//! action, wakes, reads the wall clock, and runs what is due.

use crate::Engine;
use std::time::Duration;
use tokentray_core::Action;

/// The longest sleep. Timers run on the monotonic clock, which stops while the
/// machine is suspended and ignores wall-clock changes; waking at least this
/// often is what notices a resume or a clock jump in time.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Calls to one broker that come due at one moment (a resume from suspend,
/// a start) go this far apart: never a burst at one broker.
pub const BROKER_SPACING: Duration = Duration::from_secs(1);

impl Engine {
    /// Starts the scheduler on the current tokio runtime. It ends on `shutdown`.
    pub fn spawn_scheduler(&self) -> tokio::task::JoinHandle<()> {
        self.silence().holds = true;
        self.spawn_shared_follower();
        let engine = self.clone();
        tokio::spawn(async move { engine.schedule().await })
    }

    async fn schedule(self) {
        let mut stopped = self.stopped();
        loop {
            if *stopped.borrow() {
                break;
            }
            let next = self.tick();
            let now = self.now();
            let sleep =
                next.map(|at| (at - now).to_std().unwrap_or(Duration::ZERO)).unwrap_or(MAX_SLEEP).min(MAX_SLEEP);
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.inner.wake.notified() => {}
                _ = stopped.changed() => {}
            }
        }
        tracing::debug!("scheduler stopped");
    }

    /// Runs what the lifecycles and reminders say is due now; returns the
    /// earliest next wake. The scheduler's one step: a simulation with an
    /// injected clock drives it from wake to wake.
    pub fn tick(&self) -> Option<tokentray_core::Instant> {
        let now = self.now();
        let mut due = Vec::new();
        let mut wake: Option<tokentray_core::Instant> = None;
        let focus = self.focused();
        // Accounts whose before-open moment came now: is their IP registered?
        let mut before_open = Vec::new();
        {
            let mut slots = self.slots();
            for (id, slot) in slots.iter_mut().filter(|(id, _)| focus.as_ref().is_none_or(|f| f == *id)) {
                let mut out = Vec::new();
                slot.lifecycle.poll(now, &mut out);
                if let Some(reminder) = slot.reminder.as_mut() {
                    let mut notices = Vec::new();
                    let lifecycle = &slot.lifecycle;
                    if let Some(opens) = reminder.poll(now, |close| lifecycle.lasts_until(close, now), &mut notices) {
                        before_open.push((id.clone(), opens));
                    }
                    out.extend(notices.into_iter().map(Action::Notify));
                }
                if !out.is_empty() {
                    due.push((id.clone(), out));
                }
                let wakes = [slot.lifecycle.next_wake(now), slot.reminder.as_ref().and_then(|r| r.next_wake(now))];
                for w in wakes.into_iter().flatten() {
                    wake = Some(wake.map_or(w, |x| x.min(w)));
                }
            }
        }
        self.check_ips_before_open(before_open);
        let mut all_notices = Vec::new();
        // How many calls this tick has sent each broker (by its API's host) so far.
        let mut per_broker: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        for (id, actions) in due {
            let mut notices = Vec::new();
            let broker =
                self.with_slot(&id, |s| s.config.api_base.host_str().unwrap_or("").to_owned()).unwrap_or_default();
            for action in actions {
                let mut after = || {
                    let n = per_broker.entry(broker.clone()).or_default();
                    *n += 1;
                    BROKER_SPACING * (*n - 1)
                };
                match action {
                    Action::Refresh => {
                        let (engine, id, after) = (self.clone(), id.clone(), after());
                        // The token this renewal is for: one another machine (or
                        // process) replaced meanwhile is as new as a renewal makes it.
                        let due = self.with_slot(&id, |s| s.lifecycle.token().copied()).ok().flatten();
                        tokio::spawn(async move {
                            tokio::time::sleep(after).await;
                            if engine.with_slot(&id, |s| s.lifecycle.token().copied()).ok().flatten() != due {
                                return;
                            }
                            if let Err(e) = engine.refresh(&id).await {
                                tracing::warn!(account = %id, "refresh failed: {e}");
                            }
                        });
                    }
                    Action::Validate => {
                        let (engine, id, after) = (self.clone(), id.clone(), after());
                        tokio::spawn(async move {
                            tokio::time::sleep(after).await;
                            if let Err(e) = engine.validate(&id).await {
                                tracing::warn!(account = %id, "validation failed: {e}");
                            }
                        });
                    }
                    notice @ Action::Notify(_) => notices.push(notice),
                }
            }
            self.after_change(&id);
            all_notices.push((id, notices));
        }
        // Told together: after a resume, three accounts due at once are one
        // notification on the desktop, not three.
        self.dispatch_all(all_notices);
        // What quiet hours or a snooze held, once they end.
        if let Some(w) = self.release_held(now) {
            wake = Some(wake.map_or(w, |x| x.min(w)));
        }
        wake
    }
}

//! One account's token lifecycle as a pure state machine.
//!
//! (Over 450 lines on purpose: the transitions of `handle`, `poll`,
//! `next_wake` and `status` are read and checked together. What they show is
//! in `status.rs`; how long an outage retry waits, in `backoff.rs`.)
//!
//! The engine calls [`Lifecycle::handle`] with what happened (a login, a refresh
//! result, a validation result) and [`Lifecycle::poll`] when the clock says so;
//! both append [`Action`]s for the engine to carry out. [`Lifecycle::next_wake`]
//! tells the engine when to poll again, so the runtime sleeps instead of polling.
//!
//! Invariants (checked by the property tests):
//! - a token is only ever replaced by a newer one or removed by an explicit
//!   logout: failures never drop it, however many;
//! - at most one refresh and one validation of the held token are in flight,
//!   and each refresh due instant yields at most one `Refresh` action;
//! - a verdict (validated, rejected, failed) counts only for the token it was
//!   about: a check or renewal of a token since replaced changes nothing,
//!   not even what is in flight;
//! - after `poll(now)`, either `next_wake(now)` is in the future, a provider call
//!   is in flight, or only the user can help;
//! - only the provider saying the token or grant is invalid (or the refresh
//!   limit passing) stops renewal: an outage is retried for as long as the
//!   refresh token can still work, and retries land before the access token dies.

use crate::backoff::{outage_retry_delay, seed_for};
use crate::expiry::{DailyCutoff, MarketHours};
use crate::status::{Standing, State, Status};
use crate::{
    add_span, ErrorClass, Failure, Instant, Level, Notice, NoticeKind, Refreshability, RetryPolicy, Span, Thresholds,
    TokenMeta,
};
use serde::{Deserialize, Serialize};

/// An account's settings that the lifecycle reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub thresholds: Thresholds,
    /// How long before expiry to refresh; `None` derives it from the token's lifetime.
    pub refresh_lead: Option<Span>,
    /// How often a held token is checked with the provider; `None` when the
    /// provider has no call to check it with (the clock is all there is).
    pub validate_every: Option<Span>,
    pub retry: RetryPolicy,
    /// The provider's daily invalidation time, after which a token is checked again.
    pub cutoff: Option<DailyCutoff>,
    /// A token that renews itself ends the one in use (Dhan): renewals are
    /// kept out of these hours while the token's life allows it.
    #[serde(default)]
    pub market_hours: Option<MarketHours>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            thresholds: Thresholds::default(),
            refresh_lead: None,
            validate_every: Some(Span::hours(1)),
            retry: RetryPolicy::default(),
            cutoff: None,
            market_hours: None,
        }
    }
}

/// A check right after a daily cutoff would race the provider's own rollover.
const CUTOFF_GRACE: Span = Span::minutes(1);
const MIN_LEAD: Span = Span::seconds(5);
const STARTUP_SPREAD_MS: u64 = 5_000;
const MAX_LEAD: Span = Span::minutes(30);
/// Two refreshes of one account are never closer than this, whatever the
/// provider says about a token's lifetime (an `expires_in` of 0 would
/// otherwise refresh in a loop).
pub const MIN_REFRESH_GAP: Span = Span::seconds(5);
/// What happened to an account, as the engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// An interactive login produced this token.
    LoggedIn(TokenMeta),
    /// A token read back from storage (at start-up, or stored by another
    /// process), with what was known about it then.
    Restored {
        meta: TokenMeta,
        validated_at: Option<Instant>,
        standing: Standing,
    },
    Refreshed(TokenMeta),
    /// A renewal of `token` failed. Like the two below, it names the token it
    /// is about: a verdict on a token no longer held (a login or another
    /// process replaced it while the call ran) is ignored.
    RefreshFailed {
        token: TokenMeta,
        failure: Failure,
    },
    /// The provider accepted `token`, the one the check was sent with.
    Validated {
        token: TokenMeta,
    },
    ValidationFailed {
        token: TokenMeta,
        failure: Failure,
    },
    LoggedOut,
    /// New credentials (api secret, PIN) were stored: what the provider
    /// refused was the old ones.
    CredentialsChanged,
}

/// What the engine should do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Renew the token with the provider, then report `Refreshed` or `RefreshFailed`.
    Refresh,
    /// Check the token with a profile call, then report `Validated` or `ValidationFailed`.
    Validate,
    Notify(Notice),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    policy: Policy,
    seed: u64,
    token: Option<TokenMeta>,
    standing: Standing,
    refresh_due: Option<Instant>,
    refresh_in_flight: bool,
    validate_due: Option<Instant>,
    validate_in_flight: bool,
    validate_failures: u32,
    validated_at: Option<Instant>,
    /// The most severe level already notified for the current token.
    notified: Level,
    login_needed_notified: bool,
    outage_notified: bool,
}

impl Lifecycle {
    pub fn new(account_id: &str, policy: Policy) -> Self {
        Self {
            policy,
            seed: seed_for(account_id),
            token: None,
            standing: Standing::default(),
            refresh_due: None,
            refresh_in_flight: false,
            validate_due: None,
            validate_in_flight: false,
            validate_failures: 0,
            validated_at: None,
            notified: Level::Green,
            login_needed_notified: false,
            outage_notified: false,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What the provider last said about the token, for the state file.
    pub fn standing(&self) -> Standing {
        self.standing
    }

    /// Applies edited settings; the schedule follows the new policy from now on.
    pub fn set_policy(&mut self, policy: Policy, now: Instant) {
        self.policy = policy;
        if let Some(meta) = self.token {
            if !self.refresh_in_flight && self.standing.refresh_failures == 0 && !self.standing.access_rejected {
                self.refresh_due = self.scheduled_refresh(&meta);
            }
            if !self.validate_in_flight && !self.standing.access_rejected {
                self.validate_due = self.next_validation(self.validated_at.unwrap_or(now), &meta);
            }
        }
    }

    pub fn token(&self) -> Option<&TokenMeta> {
        self.token.as_ref()
    }

    pub fn handle(&mut self, event: Event, now: Instant, out: &mut Vec<Action>) {
        match event {
            Event::LoggedIn(meta) => {
                self.install(meta, now, Some(now));
                // Start from calm so that a login made late (Kite at 05:30) still
                // warns that the new token is short-lived.
                self.notified = Level::Green;
                out.push(notify(NoticeKind::LoginSucceeded));
            }
            Event::Restored { meta, validated_at, standing } => {
                self.install(meta, now, validated_at);
                self.standing = standing;
                self.notified = Level::Green;
                // Whoever learnt of a rejection has told the user already.
                self.login_needed_notified = standing.access_rejected || standing.refresh_rejected;
                if standing.access_rejected {
                    // Nothing to check: the provider already said no.
                    self.validate_due = None;
                    if self.can_refresh(now) {
                        self.refresh_due = Some(standing.retry_at.unwrap_or(now));
                    }
                } else {
                    if let Some(at) = standing.retry_at {
                        self.refresh_due = Some(at);
                    }
                    // Whatever happened while TokenTray was not running: check first,
                    // spread over a few seconds so that many accounts do not all
                    // call their providers at the same instant.
                    let spread = Span::milliseconds((self.seed % STARTUP_SPREAD_MS) as i64);
                    self.validate_due = self.policy.validate_every.map(|_| now + spread);
                }
            }
            Event::Refreshed(meta) => {
                let notified = self.notified;
                self.install(meta, now, Some(now));
                self.notified = notified.min(self.level(now));
            }
            Event::RefreshFailed { token, failure } => {
                if self.token == Some(token) {
                    self.refresh_failed(failure, now, out);
                }
            }
            Event::Validated { token } => {
                if self.token != Some(token) {
                    return;
                }
                self.validate_in_flight = false;
                self.validate_failures = 0;
                self.validated_at = Some(now);
                if let Some(meta) = self.token {
                    self.validate_due = self.next_validation(now, &meta);
                }
            }
            Event::ValidationFailed { token, failure } => {
                if self.token != Some(token) {
                    return;
                }
                self.validate_in_flight = false;
                self.standing.last_error = Some(failure.class);
                if failure.class == ErrorClass::TokenInvalid {
                    self.standing.access_rejected = true;
                    self.validate_due = None;
                    if self.can_refresh(now) {
                        if !self.refresh_in_flight {
                            self.refresh_due = Some(now);
                        }
                    } else if !self.login_needed_notified {
                        self.login_needed_notified = true;
                        // This is the act-now notice: no "expired" follows for this token.
                        self.notified = Level::Expired;
                        out.push(notify(NoticeKind::TokenRejected));
                    }
                } else {
                    // Credentials cannot be wrong for a profile call that only
                    // carries the token; anything else is the broker's trouble.
                    self.validate_failures = self.validate_failures.saturating_add(1);
                    let delay = self.retry_delay(self.validate_failures, failure, now);
                    self.validate_due = self.policy.validate_every.map(|_| add_span(now, delay));
                }
            }
            Event::LoggedOut => {
                *self = Self { seed: self.seed, ..Self::new("", self.policy) };
            }
            Event::CredentialsChanged => {
                // Renewal stopped for the old credentials goes on with the new
                // ones: on its schedule, or now for a token the provider has
                // already rejected. A later check's error (a timeout) does not
                // hide why renewal stopped.
                let stopped_for_credentials =
                    self.standing.credentials_refused || self.standing.last_error == Some(ErrorClass::CredentialsWrong);
                if self.standing.refresh_rejected && stopped_for_credentials {
                    let access_rejected = self.standing.access_rejected;
                    self.standing = Standing { access_rejected, ..Standing::default() };
                    self.login_needed_notified = access_rejected && !self.can_refresh(now);
                    self.outage_notified = false;
                    if !self.refresh_in_flight {
                        self.refresh_due = match self.token {
                            Some(_) if access_rejected && self.can_refresh(now) => Some(now),
                            Some(meta) => self.scheduled_refresh(&meta),
                            None => None,
                        };
                    }
                }
            }
        }
    }

    fn refresh_failed(&mut self, failure: Failure, now: Instant, out: &mut Vec<Action>) {
        self.refresh_in_flight = false;
        self.standing.last_error = Some(failure.class);
        self.standing.refresh_failures = self.standing.refresh_failures.saturating_add(1);
        let failures = self.standing.refresh_failures;
        if failure.class.is_permanent() {
            self.standing.refresh_rejected = true;
            self.standing.credentials_refused = failure.class == ErrorClass::CredentialsWrong;
            self.standing.retry_at = None;
            self.refresh_due = None;
            out.push(notify(NoticeKind::RefreshFailed { attempts: failures, class: failure.class }));
            // Wrong credentials are fixed with the right secret, not a login:
            // the notice above says which.
            if failure.class == ErrorClass::TokenInvalid {
                self.login_needed(now, out);
            }
        } else if self.can_refresh(now) {
            // An outage: keep trying for as long as the refresh token can work.
            let at = add_span(now, self.retry_delay(failures, failure, now));
            self.standing.retry_at = Some(at);
            self.refresh_due = Some(at);
            if failures >= u32::from(self.policy.retry.attempts) && !self.outage_notified {
                self.outage_notified = true;
                let remaining = self.token.filter(|m| self.usable(now, m)).map(|m| m.expires_at - now);
                out.push(notify(NoticeKind::RefreshRetrying { class: failure.class, retry_in: at - now, remaining }));
            }
        } else {
            // The refresh limit passed during the outage: nothing left to try.
            self.standing.retry_at = None;
            self.refresh_due = None;
            self.login_needed(now, out);
        }
    }

    /// The wait before retrying after the `failures`-th failure in a row.
    fn retry_delay(&self, failures: u32, failure: Failure, now: Instant) -> Span {
        let attempt = u8::try_from(failures).unwrap_or(u8::MAX);
        let backoff = self.policy.retry.delay(attempt, self.seed, failure.class == ErrorClass::RateLimited);
        let access_expires = self.token.map(|m| m.expires_at);
        outage_retry_delay(backoff, access_expires, failure.retry_after, now)
    }

    /// Emits what is due at `now` and marks it as started.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Some(meta) = self.token else { return };
        if !self.refresh_in_flight && self.can_refresh(now) && self.refresh_due.is_some_and(|due| due <= now) {
            self.refresh_in_flight = true;
            self.refresh_due = None;
            out.push(Action::Refresh);
        }
        if !self.validate_in_flight
            && !self.refresh_in_flight
            && self.usable(now, &meta)
            && self.validate_due.is_some_and(|due| due <= now)
        {
            self.validate_in_flight = true;
            self.validate_due = None;
            out.push(Action::Validate);
        }
        let level = self.level(now);
        if level > self.notified && level >= Level::Orange {
            self.notified = level;
            let remaining = self.act_by(now).map_or(Span::zero(), |at| at - now);
            out.push(notify(match level {
                Level::Orange => NoticeKind::Orange { remaining },
                Level::Red => NoticeKind::Red { remaining },
                _ => NoticeKind::Expired,
            }));
        }
    }

    /// When `poll` next has something to do; `None` while waiting for a provider
    /// call's result or for the user.
    pub fn next_wake(&self, now: Instant) -> Option<Instant> {
        let meta = self.token?;
        let mut wake: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                let t = t.max(now);
                wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
            }
        };
        if !self.refresh_in_flight && self.can_refresh(now) {
            consider(self.refresh_due);
        }
        if !self.validate_in_flight && !self.refresh_in_flight && self.usable(now, &meta) {
            consider(self.validate_due);
        }
        // Level changes: threshold crossings, the access token's death, and the
        // refresh limit (after which the act-by moment becomes the access expiry).
        if let Some(act_by) = self.act_by(now) {
            let t = self.policy.thresholds;
            consider([add_span(act_by, -t.orange), add_span(act_by, -t.red), act_by].into_iter().find(|&x| x > now));
        }
        consider(Some(meta.expires_at).filter(|&x| x > now));
        if let Refreshability::Until(limit) = meta.refresh {
            consider(Some(limit).filter(|&x| x > now));
        }
        wake
    }

    pub fn status(&self, now: Instant) -> Status {
        let act_by = self.act_by(now);
        let auto_refresh = self.can_refresh(now);
        Status {
            state: self.state(now),
            level: self.level(now),
            act_by,
            remaining: act_by.map(|at| (at - now).max(Span::zero())),
            expires_at: self.token.map(|m| m.expires_at),
            login_at: self.token.map(|m| m.login_at),
            last_validated: self.validated_at,
            last_error: self.standing.last_error,
            auto_refresh,
            retry_at: self.standing.retry_at.filter(|_| auto_refresh && !self.refresh_in_flight),
            access_rejected: self.standing.access_rejected,
            credentials_refused: self.standing.refresh_rejected && self.standing.credentials_refused,
        }
    }

    pub fn state(&self, now: Instant) -> State {
        let Some(meta) = self.token else {
            return State::NoToken;
        };
        if self.refresh_in_flight {
            State::Refreshing
        } else if self.usable(now, &meta) {
            State::Valid
        } else if self.can_refresh(now) {
            // Dead access token, but a refresh is scheduled: not the user's problem yet.
            State::Expired
        } else if self.standing.access_rejected || self.standing.refresh_rejected {
            State::NeedsLogin
        } else {
            State::Expired
        }
    }

    pub fn level(&self, now: Instant) -> Level {
        if self.token.is_none() {
            return Level::NoToken;
        }
        if self.standing.access_rejected && !self.can_refresh(now) {
            return Level::Expired;
        }
        match self.act_by(now) {
            Some(at) => self.policy.thresholds.level_for(at - now),
            // No moment to act by: renewal works and has no limit.
            None => Level::Green,
        }
    }

    /// The moment the user must log in: the refresh token's limit while renewal
    /// works, else the access token's expiry. A token that renews itself has
    /// no limit until a renewal fails; then it must succeed before the token
    /// dies, and the countdown shows how long that leaves.
    pub fn act_by(&self, now: Instant) -> Option<Instant> {
        let meta = self.token?;
        if self.can_refresh(now) {
            match meta.refresh {
                Refreshability::Until(limit) => Some(limit),
                Refreshability::WhileValid if self.standing.refresh_failures > 0 => Some(meta.expires_at),
                _ => None,
            }
        } else {
            Some(meta.expires_at)
        }
    }

    /// Whether the held token works until `t` without the user: renewal
    /// carries it there, or it lives that long.
    pub fn lasts_until(&self, t: Instant, now: Instant) -> bool {
        self.token.is_some() && self.level(now) != Level::Expired && self.act_by(now).is_none_or(|at| at >= t)
    }

    /// Whether a login now would move the act-by moment. Not for a daily
    /// token that cannot be renewed, before its provider's cutoff: a new
    /// token would die at the same cutoff.
    pub fn login_helps(&self, now: Instant) -> bool {
        let Some(meta) = self.token else { return true };
        let dies_at_cutoff = self.policy.cutoff.is_some_and(|c| meta.expires_at <= c.next_after(now));
        self.can_refresh(now) || !(dies_at_cutoff && now < meta.expires_at)
    }

    fn can_refresh(&self, now: Instant) -> bool {
        // A token that renews itself cannot once the provider has rejected it.
        let renews_itself_rejected =
            self.standing.access_rejected && self.token.is_some_and(|m| m.refresh == Refreshability::WhileValid);
        !self.standing.refresh_rejected && !renews_itself_rejected && self.token.is_some_and(|m| m.can_refresh_at(now))
    }

    fn usable(&self, now: Instant, meta: &TokenMeta) -> bool {
        !self.standing.access_rejected && now < meta.expires_at
    }

    fn install(&mut self, meta: TokenMeta, now: Instant, validated_at: Option<Instant>) {
        self.token = Some(meta);
        self.standing = Standing::default();
        self.refresh_in_flight = false;
        self.login_needed_notified = false;
        self.outage_notified = false;
        self.refresh_due = self.scheduled_refresh(&meta);
        // Nothing of the new token is being checked. A check of the old one
        // may still run; its verdict will be about a token no longer held.
        self.validate_in_flight = false;
        self.validate_failures = 0;
        self.validated_at = validated_at;
        self.validate_due = self.next_validation(validated_at.unwrap_or(now), &meta);
    }

    fn scheduled_refresh(&self, meta: &TokenMeta) -> Option<Instant> {
        if meta.refresh == Refreshability::NotRefreshable {
            return None;
        }
        let lifetime = meta.lifetime().max(Span::zero());
        let lead = self.policy.refresh_lead.unwrap_or_else(|| (lifetime / 6).clamp(MIN_LEAD, MAX_LEAD));
        // Never sooner than half-way, nor than the minimum gap: a short-lived
        // (or misreported) token must not refresh in a loop.
        let earliest = add_span(meta.issued_at, (lifetime / 2).max(MIN_REFRESH_GAP));
        let due = add_span(meta.expires_at, -lead).max(earliest);
        match (meta.refresh, self.policy.market_hours) {
            (Refreshability::WhileValid, Some(hours)) => {
                Some(Some(hours.outside(due)).filter(|&t| t >= earliest).unwrap_or(due))
            }
            _ => Some(due),
        }
    }

    fn next_validation(&self, from: Instant, meta: &TokenMeta) -> Option<Instant> {
        let periodic = add_span(from, self.policy.validate_every?);
        let after_cutoff =
            self.policy.cutoff.map(|c| add_span(c.next_after(from), CUTOFF_GRACE)).filter(|&t| t < meta.expires_at);
        Some(after_cutoff.map_or(periodic, |t| t.min(periodic)))
    }

    fn login_needed(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.login_needed_notified {
            return;
        }
        self.login_needed_notified = true;
        let remaining = self.token.filter(|m| self.usable(now, m)).map(|m| m.expires_at - now);
        out.push(notify(NoticeKind::LoginNeeded { remaining }));
    }
}

fn notify(kind: NoticeKind) -> Action {
    Action::Notify(Notice { kind })
}

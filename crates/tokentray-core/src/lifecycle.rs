//! One account's token lifecycle as a pure state machine.
//!
//! The engine calls [`Lifecycle::handle`] with what happened (a login, a refresh
//! result, a validation result) and [`Lifecycle::poll`] when the clock says so;
//! both append [`Action`]s for the engine to carry out. [`Lifecycle::next_wake`]
//! tells the engine when to poll again, so the runtime sleeps instead of polling.
//!
//! Invariants (checked by the property tests):
//! - a token is only ever replaced by a newer one or removed by an explicit
//!   logout: failures never drop it, however many;
//! - at most one refresh and one validation are in flight, and each refresh due
//!   instant yields at most one `Refresh` action;
//! - after `poll(now)`, either `next_wake(now)` is in the future, a provider call
//!   is in flight, or only the user can help.

use crate::backoff::seed_for;
use crate::expiry::DailyCutoff;
use crate::{ErrorClass, Instant, Level, Notice, NoticeKind, Refreshability, RetryPolicy, Span, Thresholds, TokenMeta};
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
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            thresholds: Thresholds::default(),
            refresh_lead: None,
            validate_every: Some(Span::hours(1)),
            retry: RetryPolicy::default(),
            cutoff: None,
        }
    }
}

/// A check right after a daily cutoff would race the provider's own rollover.
const CUTOFF_GRACE: Span = Span::minutes(1);
const MIN_LEAD: Span = Span::seconds(5);
const STARTUP_SPREAD_MS: u64 = 5_000;
const MAX_LEAD: Span = Span::minutes(30);

/// What happened to an account, as the engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// An interactive login produced this token.
    LoggedIn(TokenMeta),
    /// A token read back from storage when the engine starts.
    Restored {
        meta: TokenMeta,
        validated_at: Option<Instant>,
    },
    Refreshed(TokenMeta),
    RefreshFailed(ErrorClass),
    Validated,
    ValidationFailed(ErrorClass),
    LoggedOut,
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

/// The account's state as people see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    NoToken,
    Valid,
    Refreshing,
    /// The provider rejected the token, or renewing it failed for good: only a login helps.
    NeedsLogin,
    /// The token's expiry has passed.
    Expired,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoToken => "no_token",
            Self::Valid => "valid",
            Self::Refreshing => "refreshing",
            Self::NeedsLogin => "needs_login",
            Self::Expired => "expired",
        }
    }
}

/// A snapshot for display: everything the tray, the CLI and the API show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    pub level: Level,
    /// The moment the user must act (log in); `None` when no action will be needed.
    pub act_by: Option<Instant>,
    pub remaining: Option<Span>,
    pub expires_at: Option<Instant>,
    pub login_at: Option<Instant>,
    pub last_validated: Option<Instant>,
    pub last_error: Option<ErrorClass>,
    /// Whether TokenTray will renew the token by itself.
    pub auto_refresh: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    policy: Policy,
    seed: u64,
    token: Option<TokenMeta>,
    refresh_due: Option<Instant>,
    refresh_in_flight: bool,
    refresh_failures: u8,
    refresh_given_up: bool,
    access_rejected: bool,
    validate_due: Option<Instant>,
    validate_in_flight: bool,
    validated_at: Option<Instant>,
    /// The most severe level already notified for the current token.
    notified: Level,
    login_needed_notified: bool,
    last_error: Option<ErrorClass>,
}

impl Lifecycle {
    pub fn new(account_id: &str, policy: Policy) -> Self {
        Self {
            policy,
            seed: seed_for(account_id),
            token: None,
            refresh_due: None,
            refresh_in_flight: false,
            refresh_failures: 0,
            refresh_given_up: false,
            access_rejected: false,
            validate_due: None,
            validate_in_flight: false,
            validated_at: None,
            notified: Level::Green,
            login_needed_notified: false,
            last_error: None,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Applies edited settings; the schedule follows the new policy from now on.
    pub fn set_policy(&mut self, policy: Policy, now: Instant) {
        self.policy = policy;
        if let Some(meta) = self.token {
            if !self.refresh_in_flight && self.refresh_failures == 0 && !self.access_rejected {
                self.refresh_due = self.scheduled_refresh(&meta);
            }
            if !self.validate_in_flight && !self.access_rejected {
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
            Event::Restored { meta, validated_at } => {
                self.install(meta, now, validated_at);
                // Whatever happened while TokenTray was not running: check first,
                // spread over a few seconds so that many accounts do not all
                // call their providers at the same instant.
                let spread = Span::milliseconds((self.seed % STARTUP_SPREAD_MS) as i64);
                self.validate_due = self.policy.validate_every.map(|_| now + spread);
                self.notified = Level::Green;
            }
            Event::Refreshed(meta) => {
                let notified = self.notified;
                self.install(meta, now, Some(now));
                self.notified = notified.min(self.level(now));
            }
            Event::RefreshFailed(class) => {
                self.refresh_in_flight = false;
                self.last_error = Some(class);
                self.refresh_failures = self.refresh_failures.saturating_add(1);
                if class.is_permanent() || self.refresh_failures >= self.policy.retry.attempts {
                    self.refresh_given_up = true;
                    self.refresh_due = None;
                    out.push(notify(NoticeKind::RefreshFailed { attempts: self.refresh_failures, class }));
                    self.login_needed(now, out);
                } else {
                    let delay =
                        self.policy.retry.delay(self.refresh_failures, self.seed, class == ErrorClass::RateLimited);
                    self.refresh_due = Some(now + delay);
                }
            }
            Event::Validated => {
                self.validate_in_flight = false;
                self.validated_at = Some(now);
                if let Some(meta) = self.token {
                    self.validate_due = self.next_validation(now, &meta);
                }
            }
            Event::ValidationFailed(class) => {
                self.validate_in_flight = false;
                self.last_error = Some(class);
                if class.is_permanent() {
                    self.access_rejected = true;
                    self.validate_due = None;
                    if self.can_refresh(now) {
                        if !self.refresh_in_flight {
                            self.refresh_due = Some(now);
                        }
                    } else {
                        self.login_needed(now, out);
                    }
                } else {
                    let delay = self.policy.retry.delay(1, self.seed, class == ErrorClass::RateLimited);
                    self.validate_due = self.policy.validate_every.map(|_| now + delay);
                }
            }
            Event::LoggedOut => {
                *self = Self { seed: self.seed, ..Self::new("", self.policy) };
            }
        }
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
            consider([act_by - t.orange, act_by - t.red, act_by].into_iter().find(|&x| x > now));
        }
        consider(Some(meta.expires_at).filter(|&x| x > now));
        if let Refreshability::Until(limit) = meta.refresh {
            consider(Some(limit).filter(|&x| x > now));
        }
        wake
    }

    pub fn status(&self, now: Instant) -> Status {
        let act_by = self.act_by(now);
        Status {
            state: self.state(now),
            level: self.level(now),
            act_by,
            remaining: act_by.map(|at| (at - now).max(Span::zero())),
            expires_at: self.token.map(|m| m.expires_at),
            login_at: self.token.map(|m| m.login_at),
            last_validated: self.validated_at,
            last_error: self.last_error,
            auto_refresh: self.can_refresh(now),
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
        } else if self.access_rejected || self.refresh_given_up {
            State::NeedsLogin
        } else {
            State::Expired
        }
    }

    pub fn level(&self, now: Instant) -> Level {
        let Some(meta) = self.token else {
            return Level::NoToken;
        };
        if self.access_rejected && !self.can_refresh(now) {
            return Level::Expired;
        }
        match self.act_by(now) {
            Some(at) => self.policy.thresholds.level_for(at - now),
            None if meta.refresh == Refreshability::Unbounded => Level::Green,
            None => Level::Expired,
        }
    }

    /// The moment the user must log in: the refresh token's limit while renewal
    /// works, else the access token's expiry.
    pub fn act_by(&self, now: Instant) -> Option<Instant> {
        let meta = self.token?;
        if self.can_refresh(now) {
            match meta.refresh {
                Refreshability::Until(limit) => Some(limit),
                _ => None,
            }
        } else {
            Some(meta.expires_at)
        }
    }

    fn can_refresh(&self, now: Instant) -> bool {
        !self.refresh_given_up && self.token.is_some_and(|m| m.can_refresh_at(now))
    }

    fn usable(&self, now: Instant, meta: &TokenMeta) -> bool {
        !self.access_rejected && now < meta.expires_at
    }

    fn install(&mut self, meta: TokenMeta, now: Instant, validated_at: Option<Instant>) {
        self.token = Some(meta);
        self.refresh_in_flight = false;
        self.refresh_failures = 0;
        self.refresh_given_up = false;
        self.access_rejected = false;
        self.login_needed_notified = false;
        self.last_error = None;
        self.refresh_due = self.scheduled_refresh(&meta);
        self.validate_in_flight = false;
        self.validated_at = validated_at;
        self.validate_due = self.next_validation(validated_at.unwrap_or(now), &meta);
    }

    fn scheduled_refresh(&self, meta: &TokenMeta) -> Option<Instant> {
        if meta.refresh == Refreshability::NotRefreshable {
            return None;
        }
        let lifetime = meta.lifetime().max(Span::zero());
        let lead = self.policy.refresh_lead.unwrap_or_else(|| (lifetime / 6).clamp(MIN_LEAD, MAX_LEAD));
        // Never sooner than half-way: a short-lived token must not refresh in a loop.
        Some((meta.expires_at - lead).max(meta.issued_at + lifetime / 2))
    }

    fn next_validation(&self, from: Instant, meta: &TokenMeta) -> Option<Instant> {
        let periodic = from + self.policy.validate_every?;
        let after_cutoff =
            self.policy.cutoff.map(|c| c.next_after(from) + CUTOFF_GRACE).filter(|&t| t < meta.expires_at);
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

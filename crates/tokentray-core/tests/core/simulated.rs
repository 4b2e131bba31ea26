//! The simulated clock every lifecycle test runs on: instants on one IST
//! day, the tokens of a daily and a renewing provider, and the lifecycle's
//! steps (a poll, an event, the provider's verdicts) as the engine takes them.

use tokentray_core::expiry::{ist_datetime, kite_expiry, KITE_CUTOFF};
use tokentray_core::*;

pub fn at(h: u32, m: u32) -> Instant {
    ist_datetime(2026, 11, 26, h, m)
}

pub fn kite_policy() -> Policy {
    Policy { cutoff: Some(KITE_CUTOFF), ..Policy::default() }
}

pub fn kite_token(login: Instant) -> TokenMeta {
    TokenMeta {
        issued_at: login,
        expires_at: kite_expiry(login),
        login_at: login,
        refresh: Refreshability::NotRefreshable,
    }
}

pub fn schwab_token(issued: Instant, login: Instant) -> TokenMeta {
    TokenMeta {
        issued_at: issued,
        expires_at: issued + Span::minutes(30),
        login_at: login,
        refresh: Refreshability::Until(login + Span::days(7)),
    }
}

pub fn step(lc: &mut Lifecycle, now: Instant) -> Vec<Action> {
    let mut out = Vec::new();
    lc.poll(now, &mut out);
    out
}

pub fn event(lc: &mut Lifecycle, e: Event, now: Instant) -> Vec<Action> {
    let mut out = Vec::new();
    lc.handle(e, now, &mut out);
    out
}

/// The provider's verdicts on the token the lifecycle holds now.
pub fn validated(lc: &mut Lifecycle, now: Instant) -> Vec<Action> {
    let token = *lc.token().expect("a token is held");
    event(lc, Event::Validated { token }, now)
}

pub fn validation_failed(lc: &mut Lifecycle, failure: impl Into<Failure>, now: Instant) -> Vec<Action> {
    let token = *lc.token().expect("a token is held");
    event(lc, Event::ValidationFailed { token, failure: failure.into() }, now)
}

pub fn refresh_failed(lc: &mut Lifecycle, failure: impl Into<Failure>, now: Instant) -> Vec<Action> {
    let token = *lc.token().expect("a token is held");
    event(lc, Event::RefreshFailed { token, failure: failure.into() }, now)
}

pub fn kinds(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::Refresh => "refresh".to_owned(),
            Action::Validate => "validate".to_owned(),
            Action::Notify(n) => format!("{:?}", n.kind).split([' ', '{']).next().unwrap().to_owned(),
        })
        .collect()
}

//! A token that renews itself while it lives (Dhan): no refresh token, so
//! renewal must happen before the token dies, and the countdown says so
//! only once a renewal has failed.

use tokentray_core::expiry::ist_datetime;
use tokentray_core::*;

fn dhan_token(issued: Instant, login: Instant) -> TokenMeta {
    TokenMeta {
        issued_at: issued,
        expires_at: issued + Span::hours(24),
        login_at: login,
        refresh: Refreshability::WhileValid,
    }
}

fn outage() -> Failure {
    Failure { class: ErrorClass::Transient, retry_after: None }
}

#[test]
fn a_self_renewing_token_is_green_and_renews_before_it_dies() {
    let login = ist_datetime(2026, 11, 26, 9, 0);
    let mut lc = Lifecycle::new("dhan", Policy::default());
    let mut out = Vec::new();
    lc.handle(Event::LoggedIn(dhan_token(login, login)), login, &mut out);
    let s = lc.status(login);
    assert_eq!((s.state, s.level, s.act_by, s.auto_refresh), (State::Valid, Level::Green, None, true));

    // Renewed 30 minutes before the end (a sixth of a day, capped), and still green then.
    let due = login + Span::hours(24) - Span::minutes(30);
    assert_eq!(lc.level(due), Level::Green);
    out.clear();
    lc.poll(due, &mut out);
    assert_eq!(out, [Action::Refresh]);
    lc.handle(Event::Refreshed(dhan_token(due, login)), due, &mut out);
    assert_eq!(lc.status(due).level, Level::Green);
    assert_eq!(lc.token().unwrap().login_at, login, "the login time carries over");
}

#[test]
fn a_failed_renewal_counts_down_to_the_tokens_own_end() {
    let login = ist_datetime(2026, 11, 26, 9, 0);
    let end = login + Span::hours(24);
    let mut lc = Lifecycle::new("dhan", Policy::default());
    let mut out = Vec::new();
    lc.handle(Event::LoggedIn(dhan_token(login, login)), login, &mut out);
    let due = end - Span::minutes(30);
    lc.poll(due, &mut out);
    lc.handle(Event::RefreshFailed(outage()), due, &mut out);

    // The broker is down: the token still works, but only a renewal before
    // its end keeps it, so the user sees the time left.
    let s = lc.status(due);
    assert_eq!((s.state, s.act_by, s.auto_refresh), (State::Valid, Some(end), true));
    assert_eq!(s.level, Level::Red);
    let retry = s.retry_at.expect("an outage is retried");
    assert!(retry < end, "the retry lands before the token dies: {retry} vs {end}");

    // Once it has died there is nothing left to renew: log in.
    out.clear();
    lc.poll(end, &mut out);
    assert!(!out.contains(&Action::Refresh), "{out:?}");
    let s = lc.status(end);
    assert_eq!((s.state, s.level, s.auto_refresh), (State::Expired, Level::Expired, false));
}

#[test]
fn a_refused_renewal_keeps_the_live_token_until_its_end() {
    let login = ist_datetime(2026, 11, 26, 9, 0);
    let mut lc = Lifecycle::new("dhan", Policy::default());
    let mut out = Vec::new();
    lc.handle(Event::LoggedIn(dhan_token(login, login)), login, &mut out);
    let due = login + Span::hours(23) + Span::minutes(30);
    lc.poll(due, &mut out);
    out.clear();
    lc.handle(Event::RefreshFailed(ErrorClass::TokenInvalid.into()), due, &mut out);
    let s = lc.status(due);
    assert_eq!(s.state, State::Valid, "a refused renewal does not end a token the broker still serves");
    assert_eq!((s.act_by, s.auto_refresh), (Some(login + Span::hours(24)), false));
    assert!(out.iter().any(|a| matches!(a, Action::Notify(n) if matches!(n.kind, NoticeKind::LoginNeeded { .. }))));
}

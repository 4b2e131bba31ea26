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
    lc.handle(Event::RefreshFailed { token: *lc.token().unwrap(), failure: outage() }, due, &mut out);

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
    lc.handle(
        Event::RefreshFailed { token: *lc.token().unwrap(), failure: ErrorClass::TokenInvalid.into() },
        due,
        &mut out,
    );
    let s = lc.status(due);
    assert_eq!(s.state, State::Valid, "a refused renewal does not end a token the broker still serves");
    assert_eq!((s.act_by, s.auto_refresh), (Some(login + Span::hours(24)), false));
    assert!(out.iter().any(|a| matches!(a, Action::Notify(n) if matches!(n.kind, NoticeKind::LoginNeeded { .. }))));
}

#[test]
fn a_self_renewing_token_the_broker_rejected_needs_a_login_at_once() {
    let login = ist_datetime(2026, 11, 26, 9, 0);
    let mut lc = Lifecycle::new("dhan", Policy::default());
    let mut out = Vec::new();
    lc.handle(Event::LoggedIn(dhan_token(login, login)), login, &mut out);
    let later = login + Span::hours(2);
    lc.poll(later - Span::hours(1), &mut out);
    out.clear();
    lc.handle(
        Event::ValidationFailed { token: *lc.token().unwrap(), failure: ErrorClass::TokenInvalid.into() },
        later,
        &mut out,
    );
    // Renewal needs a live token: a rejected one cannot be renewed.
    let s = lc.status(later);
    assert_eq!((s.state, s.level, s.auto_refresh), (State::NeedsLogin, Level::Expired, false));
    assert!(out.iter().any(|a| matches!(a, Action::Notify(n) if n.kind == NoticeKind::TokenRejected)), "{out:?}");
    out.clear();
    lc.poll(later + Span::minutes(1), &mut out);
    assert!(!out.contains(&Action::Refresh), "{out:?}");
}

#[test]
fn renewals_stay_out_of_market_hours_day_after_day() {
    let policy = Policy { market_hours: Some(tokentray_core::expiry::NSE_HOURS), ..Policy::default() };
    let login = ist_datetime(2026, 11, 26, 14, 0);
    let mut lc = Lifecycle::new("dhan", policy);
    let mut out = Vec::new();
    lc.handle(Event::LoggedIn(dhan_token(login, login)), login, &mut out);
    let mut now = login;
    for day in 0..60 {
        // Wake as the engine would, answering validations, until the renewal comes.
        let due = loop {
            let wake = lc.next_wake(now).expect("something is scheduled");
            out.clear();
            lc.poll(wake, &mut out);
            now = wake;
            if out.contains(&Action::Refresh) {
                break wake;
            }
            if out.contains(&Action::Validate) {
                lc.handle(Event::Validated { token: *lc.token().unwrap() }, wake, &mut out);
            }
        };
        let local = due.with_timezone(&chrono::FixedOffset::east_opt(19_800).unwrap());
        let minutes = local.format("%H").to_string().parse::<u32>().unwrap() * 60
            + local.format("%M").to_string().parse::<u32>().unwrap();
        assert!(
            !(9 * 60..15 * 60 + 30).contains(&minutes),
            "day {day}: a renewal at {local} would cut off trading bots"
        );
        assert!(due < lc.token().unwrap().expires_at, "day {day}: before the token dies");
        lc.handle(Event::Refreshed(dhan_token(due, login)), due, &mut out);
    }
}

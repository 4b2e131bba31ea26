//! The lifecycle over a simulated clock: every instant is chosen by the
//! test. The schedule, the countdown and its notices; failures and verdicts
//! are `failures.rs`'.

use crate::simulated::*;
use tokentray_core::expiry::ist_datetime;
use tokentray_core::*;

#[test]
fn a_kite_login_counts_down_to_six_and_warns_once_per_level() {
    let mut lc = Lifecycle::new("kite", kite_policy());
    let login = at(9, 15);
    assert_eq!(kinds(&event(&mut lc, Event::LoggedIn(kite_token(login)), login)), ["LoginSucceeded"]);
    let s = lc.status(login);
    assert_eq!((s.state, s.level), (State::Valid, Level::Green));
    assert_eq!(s.act_by, Some(ist_datetime(2026, 11, 27, 6, 0)));
    assert!(!s.auto_refresh);

    // Hourly validation while the token lives.
    assert_eq!(lc.next_wake(login), Some(login + Span::hours(1)));
    assert_eq!(kinds(&step(&mut lc, login + Span::hours(1))), ["validate"]);
    validated(&mut lc, login + Span::hours(1));

    let orange = ist_datetime(2026, 11, 27, 3, 0);
    assert_eq!(lc.level(orange - Span::seconds(1)), Level::Green);
    assert_eq!(lc.level(orange), Level::Orange);
    let notes = step(&mut lc, orange);
    assert!(kinds(&notes).contains(&"Orange".to_owned()), "{notes:?}");
    assert!(!kinds(&step(&mut lc, orange + Span::seconds(1))).contains(&"Orange".to_owned()));
    let red = ist_datetime(2026, 11, 27, 5, 0);
    assert!(kinds(&step(&mut lc, red)).contains(&"Red".to_owned()));
    let six = ist_datetime(2026, 11, 27, 6, 0);
    assert_eq!(kinds(&step(&mut lc, six)), ["Expired"]);
    assert_eq!(lc.status(six).state, State::Expired);
    assert!(step(&mut lc, six + Span::hours(1)).is_empty());
    // Only the user can help now: nothing left to wake for.
    assert_eq!(lc.next_wake(six), None);
    // The dead token is still there (the user may want to see when it died).
    assert!(lc.token().is_some());
}

#[test]
fn a_wake_is_scheduled_for_each_threshold() {
    let mut lc = Lifecycle::new("kite", Policy { validate_every: Some(Span::days(2)), ..kite_policy() });
    let login = at(9, 15);
    event(&mut lc, Event::LoggedIn(kite_token(login)), login);
    // The next daily cutoff is the expiry itself, so no extra check before it.
    assert_eq!(lc.next_wake(login), Some(ist_datetime(2026, 11, 27, 3, 0)));
    assert_eq!(lc.next_wake(ist_datetime(2026, 11, 27, 3, 0)), Some(ist_datetime(2026, 11, 27, 5, 0)));
    assert_eq!(lc.next_wake(ist_datetime(2026, 11, 27, 5, 0)), Some(ist_datetime(2026, 11, 27, 6, 0)));
}

#[test]
fn a_token_expected_to_outlive_a_cutoff_is_checked_just_after_it() {
    // A token whose computed expiry is wrong (later than the provider's rollover)
    // must be checked right after the rollover, not trusted on the clock.
    let mut lc = Lifecycle::new("kite", Policy { validate_every: Some(Span::days(2)), ..kite_policy() });
    let login = at(5, 0);
    let meta = TokenMeta { expires_at: login + Span::days(1), ..kite_token(login) };
    event(&mut lc, Event::LoggedIn(meta), login);
    assert_eq!(lc.next_wake(login), Some(at(6, 1)));
    assert_eq!(kinds(&step(&mut lc, at(6, 1))), ["validate"]);
    let out = validation_failed(&mut lc, ErrorClass::TokenInvalid, at(6, 1));
    assert_eq!(kinds(&out), ["TokenRejected"]);
    let s = lc.status(at(6, 2));
    assert_eq!((s.state, s.level), (State::NeedsLogin, Level::Expired));
    // The rejection was the act-now notice: no "expired" follows for this token.
    assert!(step(&mut lc, at(6, 2)).is_empty());
}

#[test]
fn a_late_login_still_warns_that_the_token_is_short_lived() {
    let mut lc = Lifecycle::new("kite", kite_policy());
    let login = at(5, 30);
    event(&mut lc, Event::LoggedIn(kite_token(login)), login);
    assert_eq!(kinds(&step(&mut lc, login)), ["Red"]);
}

#[test]
fn schwab_refreshes_ahead_of_expiry_and_counts_down_to_day_seven() {
    let mut lc = Lifecycle::new("schwab", Policy::default());
    let login = at(10, 0);
    event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
    let s = lc.status(login);
    assert_eq!(s.act_by, Some(login + Span::days(7)));
    assert_eq!(s.level, Level::Green);
    assert!(s.auto_refresh);
    // Lead for a 30-minute token: 5 minutes.
    let due = login + Span::minutes(25);
    assert_eq!(lc.next_wake(login), Some(due));
    assert!(step(&mut lc, due - Span::seconds(1)).is_empty());
    assert_eq!(kinds(&step(&mut lc, due)), ["refresh"]);
    assert_eq!(lc.status(due).state, State::Refreshing);
    assert!(step(&mut lc, due + Span::seconds(1)).is_empty(), "no second refresh while one is in flight");
    assert_eq!(lc.next_wake(due), Some(login + Span::minutes(30)), "only the expiry is left to wake for");

    let later = due + Span::seconds(2);
    event(&mut lc, Event::Refreshed(schwab_token(later, login)), later);
    assert_eq!(lc.status(later).state, State::Valid);
    assert_eq!(lc.next_wake(later), Some(later + Span::minutes(25)));
}

#[test]
fn after_day_seven_the_act_by_moment_is_the_last_access_token() {
    let mut lc = Lifecycle::new("schwab", Policy::default());
    let login = at(10, 0);
    let issued = login + Span::days(7) - Span::minutes(10);
    event(
        &mut lc,
        Event::Restored { meta: schwab_token(issued, login), validated_at: None, standing: Standing::default() },
        issued,
    );
    let limit = login + Span::days(7);
    assert_eq!(lc.status(issued).level, Level::Red);
    let s = lc.status(limit);
    assert!(!s.auto_refresh);
    assert_eq!(s.act_by, Some(issued + Span::minutes(30)));
    assert_eq!(lc.state(issued + Span::minutes(30)), State::Expired);
}

#[test]
fn a_restored_token_is_validated_first() {
    let mut lc = Lifecycle::new("kite", kite_policy());
    let login = at(9, 0);
    event(
        &mut lc,
        Event::Restored { meta: kite_token(login), validated_at: Some(login), standing: Standing::default() },
        at(12, 0),
    );
    let first = lc.next_wake(at(12, 0)).unwrap();
    assert!(first >= at(12, 0) && first < at(12, 0) + Span::seconds(5), "within seconds of the start: {first}");
    assert_eq!(kinds(&step(&mut lc, first)), ["validate"]);
    assert_eq!(lc.next_wake(first), Some(ist_datetime(2026, 11, 27, 3, 0)));
}

#[test]
fn a_transient_validation_failure_keeps_the_token_and_checks_again_soon() {
    let mut lc = Lifecycle::new("kite", kite_policy());
    let login = at(9, 0);
    event(&mut lc, Event::LoggedIn(kite_token(login)), login);
    let t = login + Span::hours(1);
    step(&mut lc, t);
    validation_failed(&mut lc, ErrorClass::Transient, t);
    assert_eq!(lc.status(t).state, State::Valid);
    let next = lc.next_wake(t).unwrap();
    assert!(next - t <= Span::seconds(12), "{}", next - t);
}

#[test]
fn a_clock_jump_past_expiry_is_just_a_new_now() {
    let mut lc = Lifecycle::new("schwab", Policy::default());
    let login = at(10, 0);
    event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
    // Laptop resumed two hours later: the access token is dead, the refresh token is not.
    let resumed = login + Span::hours(2);
    assert_eq!(lc.state(resumed), State::Expired);
    assert_eq!(lc.level(resumed), Level::Green);
    assert_eq!(kinds(&step(&mut lc, resumed)), ["refresh"]);
}

#[test]
fn logout_forgets_the_token_and_stops_waking() {
    let mut lc = Lifecycle::new("kite", kite_policy());
    event(&mut lc, Event::LoggedIn(kite_token(at(9, 0))), at(9, 0));
    event(&mut lc, Event::LoggedOut, at(9, 1));
    assert_eq!(lc.state(at(9, 1)), State::NoToken);
    assert_eq!(lc.level(at(9, 1)), Level::NoToken);
    assert_eq!(lc.next_wake(at(9, 1)), None);
}

#[test]
fn an_unbounded_refresh_token_never_needs_the_user() {
    let mut lc = Lifecycle::new("oauth", Policy::default());
    let t = at(10, 0);
    let meta = TokenMeta { refresh: Refreshability::Unbounded, ..schwab_token(t, t) };
    event(&mut lc, Event::LoggedIn(meta), t);
    let s = lc.status(t);
    assert_eq!((s.level, s.act_by), (Level::Green, None));
}

#[test]
fn notice_texts_name_the_account_and_the_time_left() {
    let n = Notice { kind: NoticeKind::Orange { remaining: Span::minutes(134) } };
    assert_eq!(n.summary("Kite"), "Kite: log in within 2h 14m");
    assert!(n.wants_login());
    let n = Notice { kind: NoticeKind::RefreshFailed { attempts: 3, class: ErrorClass::Transient } };
    assert_eq!(n.body(), "3 attempt(s) failed: the broker is unreachable or failing.");
}

#[test]
fn without_a_profile_call_the_clock_is_all_there_is() {
    let mut lc = Lifecycle::new("oauth", Policy { validate_every: None, ..Policy::default() });
    let login = at(10, 0);
    event(
        &mut lc,
        Event::Restored { meta: schwab_token(login, login), validated_at: None, standing: Standing::default() },
        login,
    );
    assert!(step(&mut lc, login).is_empty());
    assert_eq!(lc.next_wake(login), Some(login + Span::minutes(25)));
}

#[test]
fn a_login_helps_unless_a_new_daily_token_would_die_at_the_same_cutoff() {
    // Logged in yesterday at 10:00: the token dies at 06:00 today.
    let mut lc = Lifecycle::new("kite", kite_policy());
    let login = ist_datetime(2026, 11, 25, 10, 0);
    event(&mut lc, Event::LoggedIn(kite_token(login)), login);
    assert!(!lc.login_helps(at(5, 0)), "at 05:00 a new token would die at 06:00 too");
    assert!(lc.login_helps(at(6, 30)), "after the cutoff a login brings a day's token");
    assert!(lc.lasts_until(at(5, 30), at(5, 0)) && !lc.lasts_until(at(15, 30), at(5, 0)));
    // A Schwab grant: a login always renews the 7-day limit.
    let mut lc = Lifecycle::new("schwab", Policy::default());
    event(&mut lc, Event::LoggedIn(schwab_token(at(9, 0), at(9, 0))), at(9, 0));
    assert!(lc.login_helps(at(9, 10)));
    assert!(lc.lasts_until(at(9, 0) + Span::days(6), at(9, 10)), "renewal carries it to the limit");
    assert!(!lc.lasts_until(at(9, 0) + Span::days(8), at(9, 10)));
    // No token: a login is the only way.
    assert!(Lifecycle::new("none", kite_policy()).login_helps(at(5, 0)));
    assert!(!Lifecycle::new("none", kite_policy()).lasts_until(at(9, 0), at(5, 0)));
}

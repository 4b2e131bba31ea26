//! The lifecycle over a simulated clock: every instant is chosen by the test.

use tokentray_core::expiry::{ist_datetime, kite_expiry, KITE_CUTOFF};
use tokentray_core::*;

fn at(h: u32, m: u32) -> Instant {
    ist_datetime(2026, 11, 26, h, m)
}

fn kite_policy() -> Policy {
    Policy { cutoff: Some(KITE_CUTOFF), ..Policy::default() }
}

fn kite_token(login: Instant) -> TokenMeta {
    TokenMeta {
        issued_at: login,
        expires_at: kite_expiry(login),
        login_at: login,
        refresh: Refreshability::NotRefreshable,
    }
}

fn schwab_token(issued: Instant, login: Instant) -> TokenMeta {
    TokenMeta {
        issued_at: issued,
        expires_at: issued + Span::minutes(30),
        login_at: login,
        refresh: Refreshability::Until(login + Span::days(7)),
    }
}

fn step(lc: &mut Lifecycle, now: Instant) -> Vec<Action> {
    let mut out = Vec::new();
    lc.poll(now, &mut out);
    out
}

fn event(lc: &mut Lifecycle, e: Event, now: Instant) -> Vec<Action> {
    let mut out = Vec::new();
    lc.handle(e, now, &mut out);
    out
}

/// The provider's verdicts on the token the lifecycle holds now.
fn validated(lc: &mut Lifecycle, now: Instant) -> Vec<Action> {
    let token = *lc.token().expect("a token is held");
    event(lc, Event::Validated { token }, now)
}

fn validation_failed(lc: &mut Lifecycle, failure: impl Into<Failure>, now: Instant) -> Vec<Action> {
    let token = *lc.token().expect("a token is held");
    event(lc, Event::ValidationFailed { token, failure: failure.into() }, now)
}

fn refresh_failed(lc: &mut Lifecycle, failure: impl Into<Failure>, now: Instant) -> Vec<Action> {
    let token = *lc.token().expect("a token is held");
    event(lc, Event::RefreshFailed { token, failure: failure.into() }, now)
}

fn kinds(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::Refresh => "refresh".to_owned(),
            Action::Validate => "validate".to_owned(),
            Action::Notify(n) => format!("{:?}", n.kind).split([' ', '{']).next().unwrap().to_owned(),
        })
        .collect()
}

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
fn an_outage_is_retried_with_backoff_and_never_asks_for_a_login() {
    let mut lc = Lifecycle::new("schwab", Policy::default());
    let login = at(10, 0);
    event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
    let mut now = login + Span::minutes(25);
    let mut waits = Vec::new();
    for attempt in 1..=6u32 {
        assert_eq!(kinds(&step(&mut lc, now)), ["refresh"], "attempt {attempt}");
        let class = if attempt % 2 == 0 { ErrorClass::Malformed } else { ErrorClass::Transient };
        let out = refresh_failed(&mut lc, class, now);
        // The user hears of it once, after the third failure, and is not asked to log in.
        assert_eq!(kinds(&out), if attempt == 3 { vec!["RefreshRetrying"] } else { vec![] }, "attempt {attempt}");
        let s = lc.status(now);
        assert!(s.auto_refresh && s.state == State::Valid, "{s:?}");
        assert_eq!(s.retry_at, lc.next_wake(now));
        let next = lc.next_wake(now).unwrap();
        waits.push((next - now).num_milliseconds());
        now = next;
    }
    assert!(waits[0] >= 8_000 && waits[0] <= 12_000, "{waits:?}");
    assert!(waits[1] >= 16_000 && waits[1] <= 24_000, "{waits:?}");
    // The waits shrink as the expiry nears, so tries keep landing before it.
    assert!(now < login + Span::minutes(30), "all six tries came before the token died: {waits:?}");
    assert!(lc.token().is_some());
    // The broker answers again: a fresh token, and the outage is forgotten.
    assert_eq!(kinds(&step(&mut lc, now)), ["refresh"]);
    event(&mut lc, Event::Refreshed(schwab_token(now, login)), now);
    let s = lc.status(now);
    assert_eq!((s.state, s.retry_at, s.last_error), (State::Valid, None, None));
}

#[test]
fn retry_after_is_honoured() {
    let mut lc = Lifecycle::new("schwab", Policy::default());
    let login = at(10, 0);
    event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
    let due = login + Span::minutes(25);
    step(&mut lc, due);
    let failure = Failure { class: ErrorClass::RateLimited, retry_after: Some(Span::seconds(90)) };
    refresh_failed(&mut lc, failure, due);
    assert_eq!(lc.next_wake(due), Some(due + Span::seconds(90)));
}

#[test]
fn a_refresh_limit_passing_during_an_outage_asks_for_a_login() {
    let mut lc = Lifecycle::new("schwab", Policy::default());
    let login = at(10, 0);
    let issued = login + Span::days(7) - Span::minutes(28);
    event(&mut lc, Event::Refreshed(schwab_token(issued, login)), issued);
    let limit = login + Span::days(7);
    let due = issued + Span::minutes(25);
    assert!(kinds(&step(&mut lc, due)).contains(&"refresh".to_owned()));
    let out = refresh_failed(&mut lc, ErrorClass::Transient, limit + Span::seconds(1));
    assert_eq!(kinds(&out), ["LoginNeeded"]);
    let s = lc.status(limit + Span::seconds(1));
    assert!(!s.auto_refresh);
    assert_eq!(s.retry_at, None);
    assert_eq!(s.act_by, Some(issued + Span::minutes(30)));
}

/// A 30-minute Schwab token under a 3-minute 5xx storm that starts at any
/// second of its life: once the broker answers again, a refresh lands before
/// the token dies. Dead-token seconds: zero.
#[test]
fn a_three_minute_storm_never_lets_a_schwab_token_die() {
    let storm = Span::minutes(3);
    let login = at(10, 0);
    let mut worst_margin = Span::minutes(30);
    for start_s in (0..=35 * 60).step_by(7) {
        let mut lc = Lifecycle::new("schwab", Policy::default());
        event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
        let storm_from = login + Span::seconds(start_s);
        let storm_to = storm_from + storm;
        let mut now = login;
        let mut expires = login + Span::minutes(30);
        let mut refreshed = 0;
        while now < login + Span::minutes(70) {
            let mut out = Vec::new();
            lc.poll(now, &mut out);
            if out.contains(&Action::Refresh) {
                assert!(now < expires, "storm from +{start_s}s: the token died at {expires}, refreshed at {now}");
                if now >= storm_from && now < storm_to {
                    refresh_failed(&mut lc, ErrorClass::Transient, now);
                } else {
                    worst_margin = worst_margin.min(expires - now);
                    event(&mut lc, Event::Refreshed(schwab_token(now, login)), now);
                    expires = now + Span::minutes(30);
                    refreshed += 1;
                }
            }
            if out.contains(&Action::Validate) {
                validated(&mut lc, now);
            }
            now = lc.next_wake(now).expect("a Schwab token always has a next wake-up");
        }
        assert!(refreshed >= 2, "storm from +{start_s}s");
    }
    assert!(worst_margin > Span::zero(), "worst margin before expiry: {worst_margin}");
}

#[test]
fn a_zero_lifetime_never_refreshes_in_a_loop() {
    let mut lc = Lifecycle::new("oauth", Policy::default());
    let t = at(10, 0);
    let meta = TokenMeta { expires_at: t, ..schwab_token(t, t) };
    event(&mut lc, Event::LoggedIn(meta), t);
    assert!(!kinds(&step(&mut lc, t)).contains(&"refresh".to_owned()));
    assert_eq!(lc.next_wake(t), Some(t + MIN_REFRESH_GAP));
}

#[test]
fn an_absurd_expiry_does_not_panic() {
    let mut lc = Lifecycle::new("oauth", Policy::default());
    let t = at(10, 0);
    let meta = TokenMeta { expires_at: Instant::MAX_UTC, refresh: Refreshability::Unbounded, ..schwab_token(t, t) };
    event(&mut lc, Event::LoggedIn(meta), t);
    step(&mut lc, t);
    let _ = lc.next_wake(t);
    assert_eq!(lc.status(t).state, State::Valid);
}

#[test]
fn a_rejection_learnt_by_another_process_is_restored() {
    let mut lc = Lifecycle::new("kite", kite_policy());
    let login = at(9, 0);
    let standing =
        Standing { access_rejected: true, last_error: Some(ErrorClass::TokenInvalid), ..Standing::default() };
    let out =
        event(&mut lc, Event::Restored { meta: kite_token(login), validated_at: Some(login), standing }, at(10, 0));
    assert!(out.is_empty(), "the process that learnt it told the user");
    let s = lc.status(at(10, 0));
    assert_eq!((s.state, s.level, s.access_rejected), (State::NeedsLogin, Level::Expired, true));
    let actions = kinds(&step(&mut lc, at(10, 0)));
    assert!(!actions.contains(&"validate".to_owned()), "no check of a token the broker already refused");
    assert_eq!(lc.standing(), standing);
}

#[test]
fn a_rejected_refresh_token_asks_for_login_at_once() {
    let mut lc = Lifecycle::new("oauth", Policy::default());
    let login = at(10, 0);
    event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
    let due = login + Span::minutes(25);
    step(&mut lc, due);
    let out = refresh_failed(&mut lc, ErrorClass::TokenInvalid, due);
    assert_eq!(kinds(&out), ["RefreshFailed", "LoginNeeded"]);
    assert_eq!(lc.status(due).last_error, Some(ErrorClass::TokenInvalid));
}

#[test]
fn a_revoked_access_token_is_refreshed_when_a_refresh_token_exists() {
    let mut lc = Lifecycle::new("oauth", Policy::default());
    let login = at(10, 0);
    event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
    let t = login + Span::minutes(5);
    let out = validation_failed(&mut lc, ErrorClass::TokenInvalid, t);
    assert!(out.is_empty());
    assert_eq!(kinds(&step(&mut lc, t)), ["refresh"]);
}

#[test]
fn a_verdict_on_a_token_already_replaced_changes_nothing() {
    // A renewal lands while a check of the old token runs: the broker ends
    // the old token (Dhan does, Schwab may), so the check says "invalid".
    let policy = Policy { validate_every: Some(Span::minutes(20)), ..Policy::default() };
    let mut lc = Lifecycle::new("schwab", policy);
    let login = at(10, 0);
    event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
    let old = *lc.token().unwrap();
    assert_eq!(kinds(&step(&mut lc, at(10, 20))), ["validate"]);
    assert_eq!(kinds(&step(&mut lc, at(10, 25))), ["refresh"]);
    event(&mut lc, Event::Refreshed(schwab_token(at(10, 25), login)), at(10, 25));
    let fresh = lc.status(at(10, 25));

    // The new token is checked on its own schedule, and that check is in flight...
    assert_eq!(kinds(&step(&mut lc, at(10, 45))), ["validate"]);
    // ...when the old token's verdict comes in: it changes nothing, not even what is in flight.
    let out =
        event(&mut lc, Event::ValidationFailed { token: old, failure: ErrorClass::TokenInvalid.into() }, at(10, 46));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(lc.status(at(10, 25)), fresh, "the new token is as it was");
    assert_eq!(lc.status(at(10, 46)).state, State::Valid);
    let out = event(&mut lc, Event::Validated { token: old }, at(10, 47));
    assert!(out.is_empty() && step(&mut lc, at(10, 47)).is_empty(), "no second check of the new token");
}

#[test]
fn a_failed_renewal_of_a_token_a_login_replaced_is_ignored() {
    let mut lc = Lifecycle::new("schwab", Policy::default());
    let login = at(10, 0);
    event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
    let old = *lc.token().unwrap();
    assert_eq!(kinds(&step(&mut lc, at(10, 25))), ["refresh"]);
    // The user logs in again while the renewal runs; the old refresh token is refused.
    let relogin = at(10, 26);
    event(&mut lc, Event::LoggedIn(schwab_token(relogin, relogin)), relogin);
    let out = event(&mut lc, Event::RefreshFailed { token: old, failure: ErrorClass::TokenInvalid.into() }, at(10, 27));
    assert!(out.is_empty(), "{out:?}");
    let s = lc.status(at(10, 27));
    assert_eq!((s.state, s.level, s.auto_refresh, s.last_error), (State::Valid, Level::Green, true, None));
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

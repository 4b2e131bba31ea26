//! The lifecycle through failures, over a simulated clock: outages retried
//! within the token's life, the provider's refusals, verdicts on a token
//! since replaced, and new credentials after a refusal of the old ones.

use crate::simulated::*;
use tokentray_core::*;

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
fn new_credentials_let_a_renewal_stopped_for_the_old_ones_go_on() {
    let mut lc = Lifecycle::new("schwab", Policy::default());
    let login = at(9, 0);
    event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
    let due = lc.next_wake(login).unwrap();
    assert!(kinds(&step(&mut lc, due)).contains(&"refresh".to_owned()));
    let notices = refresh_failed(&mut lc, ErrorClass::CredentialsWrong, due);
    assert_eq!(kinds(&notices), ["RefreshFailed"], "the secret is the fix, not a login");
    let status = lc.status(due);
    assert!(!status.auto_refresh && status.last_error == Some(ErrorClass::CredentialsWrong));
    assert!(lc.next_wake(due).is_none_or(|w| w > due), "nothing renews with the refused secret");

    let stored = due + Span::minutes(1);
    assert!(event(&mut lc, Event::CredentialsChanged, stored).is_empty(), "nothing to tell");
    let status = lc.status(stored);
    assert!(status.auto_refresh && status.last_error.is_none(), "{status:?}");
    assert_eq!(kinds(&step(&mut lc, stored)), ["refresh"], "the renewal's time had come: now");

    // A token the provider refused (not the secret) stays refused.
    let mut lc = Lifecycle::new("schwab", Policy::default());
    event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
    step(&mut lc, due);
    refresh_failed(&mut lc, ErrorClass::TokenInvalid, due);
    event(&mut lc, Event::CredentialsChanged, stored);
    assert_eq!(lc.status(stored).last_error, Some(ErrorClass::TokenInvalid), "a login is still needed");
}

#[test]
fn a_later_checks_error_does_not_hide_that_the_credentials_stopped_renewal() {
    let mut lc = Lifecycle::new("schwab", Policy::default());
    let login = at(9, 0);
    event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
    let due = lc.next_wake(login).unwrap();
    step(&mut lc, due);
    refresh_failed(&mut lc, ErrorClass::CredentialsWrong, due);
    // A check of the still-valid access token times out: the last error is now that.
    let token = *lc.token().unwrap();
    let checked = due + Span::seconds(30);
    event(&mut lc, Event::ValidationFailed { token, failure: ErrorClass::Transient.into() }, checked);
    assert_eq!(lc.status(checked).last_error, Some(ErrorClass::Transient));
    assert!(lc.standing().credentials_refused, "why renewal stopped is kept");
    assert!(lc.status(checked).credentials_refused, "and shown");

    let stored = checked + Span::minutes(1);
    event(&mut lc, Event::CredentialsChanged, stored);
    assert!(lc.status(stored).auto_refresh, "the new secret is tried");
    assert_eq!(kinds(&step(&mut lc, stored)), ["refresh"]);
}

#[test]
fn new_credentials_renew_a_rejected_access_token_at_once() {
    let mut lc = Lifecycle::new("schwab", Policy::default());
    let login = at(9, 0);
    event(&mut lc, Event::LoggedIn(schwab_token(login, login)), login);
    // A login elsewhere ended the access token; its renewal meets a refused secret.
    let ended = at(9, 5);
    let token = *lc.token().unwrap();
    event(&mut lc, Event::ValidationFailed { token, failure: ErrorClass::TokenInvalid.into() }, ended);
    assert_eq!(kinds(&step(&mut lc, ended)), ["refresh"]);
    refresh_failed(&mut lc, ErrorClass::CredentialsWrong, ended);
    assert_eq!(lc.status(ended).state, State::NeedsLogin);

    // The scheduled renewal (near 09:25) is too late for a token already dead.
    let stored = at(9, 6);
    event(&mut lc, Event::CredentialsChanged, stored);
    assert_eq!(kinds(&step(&mut lc, stored)), ["refresh"], "renewed now, not on the old schedule");
    assert!(lc.standing().access_rejected, "until the renewal works, the old token stays refused");
}

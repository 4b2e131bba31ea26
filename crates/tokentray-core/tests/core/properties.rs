//! Random sequences of events and clock jumps against the lifecycle's invariants.

use proptest::prelude::*;
use tokentray_core::expiry::{ist_datetime, KITE_CUTOFF};
use tokentray_core::*;

#[derive(Debug, Clone)]
enum Op {
    Advance(i64),
    JumpBack(i64),
    Suspend(i64),
    FinishRefresh(Option<ErrorClass>),
    FinishValidate(Option<ErrorClass>),
    /// The verdict of a call about a token since replaced.
    FinishStale(Option<ErrorClass>),
    Login,
    Logout,
}

fn class() -> impl Strategy<Value = ErrorClass> {
    prop_oneof![
        Just(ErrorClass::TokenInvalid),
        Just(ErrorClass::CredentialsWrong),
        Just(ErrorClass::RateLimited),
        Just(ErrorClass::Transient),
        Just(ErrorClass::Malformed),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0i64..7_200).prop_map(Op::Advance),
        1 => (0i64..3_600).prop_map(Op::JumpBack),
        1 => (0i64..3 * 86_400).prop_map(Op::Suspend),
        3 => proptest::option::weighted(0.6, class()).prop_map(Op::FinishRefresh),
        3 => proptest::option::weighted(0.3, class()).prop_map(Op::FinishValidate),
        2 => proptest::option::weighted(0.5, class()).prop_map(Op::FinishStale),
        1 => Just(Op::Login),
        1 => Just(Op::Logout),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Daily,
    ShortRefreshable,
    Unbounded,
    SelfRenewing,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Daily), Just(Kind::ShortRefreshable), Just(Kind::Unbounded), Just(Kind::SelfRenewing)]
}

fn token_for(kind: Kind, now: Instant, login_at: Instant) -> TokenMeta {
    match kind {
        Kind::Daily => TokenMeta {
            issued_at: now,
            expires_at: KITE_CUTOFF.next_after(now),
            login_at: now,
            refresh: Refreshability::NotRefreshable,
        },
        Kind::ShortRefreshable => TokenMeta {
            issued_at: now,
            expires_at: now + Span::minutes(30),
            login_at,
            refresh: Refreshability::Until(login_at + Span::days(7)),
        },
        Kind::Unbounded => TokenMeta {
            issued_at: now,
            expires_at: now + Span::minutes(2),
            login_at,
            refresh: Refreshability::Unbounded,
        },
        Kind::SelfRenewing => TokenMeta {
            issued_at: now,
            expires_at: now + Span::hours(24),
            login_at,
            refresh: Refreshability::WhileValid,
        },
    }
}

/// The suite explores the same cases on every run, so that it passes or
/// fails on the code and not on the dice (a random seed once failed CI on a
/// case no run before had drawn). Explore further with, e.g.,
/// `PROPTEST_RNG_SEED=$RANDOM PROPTEST_CASES=100000 cargo test -p tokentray-core --test properties`;
/// a failure found that way goes into `properties.proptest-regressions`.
fn config() -> ProptestConfig {
    let from_env = ProptestConfig::default();
    let set = |name: &str| std::env::var_os(name).is_some();
    ProptestConfig {
        cases: if set("PROPTEST_CASES") { from_env.cases } else { 4096 },
        rng_seed: if set("PROPTEST_RNG_SEED") {
            from_env.rng_seed
        } else {
            proptest::test_runner::RngSeed::Fixed(0x746f_6b65_6e74_7261)
        },
        ..from_env
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn lifecycle_invariants_hold(kind in kind(), ops in proptest::collection::vec(op(), 1..120)) {
        let policy = Policy { cutoff: Some(KITE_CUTOFF), ..Policy::default() };
        let mut lc = Lifecycle::new("acct", policy);
        let mut now = ist_datetime(2026, 11, 26, 9, 0);
        let mut out = Vec::new();
        lc.handle(Event::LoggedIn(token_for(kind, now, now)), now, &mut out);
        let mut expected = lc.token().copied();
        let mut login_at = now;
        // The token each call in flight was sent with; a login replaces the
        // token under a running call, whose verdict then comes in stale.
        let (mut refresh_pending, mut validate_pending): (Option<TokenMeta>, Option<TokenMeta>) = (None, None);
        // Calls about tokens since replaced: their verdicts may still come.
        let mut stale: Vec<(bool, TokenMeta)> = Vec::new();

        for op in ops {
            out.clear();
            let before = (lc.token().copied(), lc.status(now));
            let mut verdict_on = None;
            match op {
                Op::Advance(s) => now += Span::seconds(s),
                Op::JumpBack(s) => now -= Span::seconds(s),
                Op::Suspend(s) => now += Span::seconds(s),
                Op::FinishRefresh(result) if refresh_pending.is_some() => {
                    let token = refresh_pending.take().expect("pending");
                    match result {
                        None => {
                            let meta = token_for(kind, now, login_at);
                            lc.handle(Event::Refreshed(meta), now, &mut out);
                            expected = Some(meta);
                            stale.extend(validate_pending.take().map(|t| (false, t)));
                        }
                        Some(c) => {
                            verdict_on = Some(token);
                            lc.handle(Event::RefreshFailed { token, failure: c.into() }, now, &mut out);
                        }
                    }
                }
                Op::FinishValidate(result) if validate_pending.is_some() => {
                    let token = validate_pending.take().expect("pending");
                    verdict_on = Some(token);
                    let e = result.map_or(Event::Validated { token }, |c| Event::ValidationFailed { token, failure: c.into() });
                    lc.handle(e, now, &mut out);
                }
                // A renewal's success is installed under the account's lock,
                // before any login's: only its failure can come in stale.
                Op::FinishStale(result) if !stale.is_empty() => {
                    let (is_refresh, token) = stale.remove(0);
                    verdict_on = Some(token);
                    let e = match (is_refresh, result) {
                        (true, c) => Event::RefreshFailed { token, failure: c.unwrap_or(ErrorClass::Transient).into() },
                        (false, None) => Event::Validated { token },
                        (false, Some(c)) => Event::ValidationFailed { token, failure: c.into() },
                    };
                    lc.handle(e, now, &mut out);
                }
                Op::FinishRefresh(_) | Op::FinishValidate(_) | Op::FinishStale(_) => {}
                Op::Login | Op::Logout => {
                    // Whatever is in flight is now about a token no longer held.
                    stale.extend(refresh_pending.take().map(|t| (true, t)));
                    stale.extend(validate_pending.take().map(|t| (false, t)));
                    if matches!(op, Op::Login) {
                        login_at = now;
                        let meta = token_for(kind, now, now);
                        lc.handle(Event::LoggedIn(meta), now, &mut out);
                        expected = Some(meta);
                    } else {
                        lc.handle(Event::LoggedOut, now, &mut out);
                        expected = None;
                    }
                }
            }
            // A verdict on a token no longer held changes nothing that is shown.
            if verdict_on.is_some() && verdict_on != before.0 {
                prop_assert_eq!(&(lc.token().copied(), lc.status(now)), &before, "a stale verdict changed the account");
                prop_assert!(out.is_empty(), "a stale verdict notified {:?}", out);
            }
            // A token changes only by login, refresh or logout: never by a failure or a clock.
            prop_assert_eq!(lc.token().copied(), expected);

            out.clear();
            lc.poll(now, &mut out);
            for a in &out {
                match a {
                    Action::Refresh => {
                        prop_assert!(refresh_pending.is_none(), "a second refresh while one is in flight");
                        refresh_pending = lc.token().copied();
                    }
                    Action::Validate => {
                        prop_assert!(validate_pending.is_none(), "a second validation while one is in flight");
                        validate_pending = lc.token().copied();
                    }
                    Action::Notify(_) => {}
                }
            }
            // Polling again at the same instant has nothing new to do: every due
            // action was taken once.
            let mut again = Vec::new();
            lc.poll(now, &mut again);
            prop_assert!(again.is_empty(), "repeated poll emitted {:?}", again);

            let state = lc.state(now);
            match lc.next_wake(now) {
                Some(t) => prop_assert!(t > now, "wake {} is not after now {}", t, now),
                None => prop_assert!(
                    refresh_pending.is_some() || validate_pending.is_some()
                        || matches!(state, State::NoToken | State::NeedsLogin | State::Expired),
                    "no wake-up in state {:?}", state
                ),
            }
            let status = lc.status(now);
            if state == State::Valid {
                prop_assert!(status.expires_at.is_some_and(|e| e > now));
            }
        }
    }
}

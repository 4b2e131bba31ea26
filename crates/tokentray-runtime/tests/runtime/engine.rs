//! The runtime driving the core against the sandbox: scheduled refreshes,
//! clock jumps, single-flight refreshes across engines, failures that keep
//! the token, config edits and tokens picked up from another process.

use crate::common::*;
use std::sync::Arc;
use std::time::Duration;
use tokentray_adapters::store::SecretStore;
use tokentray_core::{Level, Span, State};
use tokentray_runtime::{Clock, EventKind, ManualClock};
use tokentray_sandbox::{Endpoint, Fault};

#[tokio::test]
async fn the_scheduler_refreshes_after_a_clock_jump() {
    let w = world("jump", None).await;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let engine = w.engine_with(clock.clone());
    log_in(&engine, "oauth").await;
    let first = engine.tokens("oauth").await.unwrap();
    // The scheduler's one step, as it runs at its start: nothing is due
    // before the refresh time (25 minutes into a 30-minute token).
    let next = engine.tick().expect("a wake-up is planned");
    assert!(next > clock.now() + Span::minutes(20), "the next wake-up is the refresh's: {next}");
    assert_eq!(engine.status("oauth").unwrap().state, State::Valid, "no refresh started");
    assert_eq!(w.sandbox.requests_to("/v1/oauth/token").len(), 1, "nothing due yet");
    let _scheduler = engine.spawn_scheduler();

    // The laptop slept 28 minutes: past the refresh time (25 min), before expiry (30).
    clock.advance(Span::minutes(28));
    engine.wake();
    eventually("a refresh", || w.sandbox.requests_to("/v1/oauth/token").len() == 2).await;
    eventually("the new token installed", || {
        engine.status("oauth").unwrap().expires_at.is_some_and(|e| e > clock.now() + Span::minutes(29))
    })
    .await;
    let second = engine.tokens("oauth").await.unwrap();
    assert_ne!(first.access_token, second.access_token);
    assert_eq!(w.sandbox.requests_to("/v1/oauth/token")[1].form()["grant_type"], "refresh_token");
    engine.shutdown();
}

#[tokio::test]
async fn two_engines_refreshing_at_once_make_one_provider_call() {
    let w = world("single-flight", None).await;
    let (a, b) = (w.engine(), w.engine());
    log_in(&a, "oauth").await;
    b.adopt_from_disk("oauth").await.unwrap();
    w.sandbox.inject(Endpoint::OAuth2Token, Fault::delay(Duration::from_millis(300)), Some(1));
    let (ra, rb, rc) = tokio::join!(a.refresh("oauth"), b.refresh("oauth"), a.refresh("oauth"));
    for r in [ra, rb, rc] {
        assert_eq!(r.unwrap().state, State::Valid);
    }
    let grants: Vec<_> = w
        .sandbox
        .requests_to("/v1/oauth/token")
        .into_iter()
        .filter(|r| r.form()["grant_type"] == "refresh_token")
        .collect();
    assert_eq!(grants.len(), 1, "one provider call for three refreshes in two processes");
    let (ta, tb) = (a.tokens("oauth").await.unwrap(), b.tokens("oauth").await.unwrap());
    assert_eq!(ta, tb, "the waiting engine picked up the other's token");
    // The old access token lives on until its expiry, as on real servers; ours is the newest.
    assert_eq!(w.sandbox.live_access_tokens().last().map(String::as_str), Some(ta.access_token.expose()));
}

#[tokio::test]
async fn an_outage_is_retried_until_the_broker_answers_and_never_asks_for_a_login() {
    let w = world("failures", None).await;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let engine = w.engine_with(clock.clone());
    log_in(&engine, "oauth").await;
    let token = engine.tokens("oauth").await.unwrap();
    w.sandbox.inject(Endpoint::OAuth2Token, Fault::Status { code: 503 }, None);
    let _scheduler = engine.spawn_scheduler();
    clock.advance(Span::minutes(25));
    engine.wake();
    // Four attempts, the clock moved past each backoff.
    for attempt in 1..=4usize {
        eventually("a refresh attempt", || w.sandbox.requests_to("/v1/oauth/token").len() == 1 + attempt).await;
        eventually("the failure recorded", || engine.status("oauth").unwrap().retry_at.is_some()).await;
        let s = engine.status("oauth").unwrap();
        assert_eq!(s.state, State::Valid, "the access token still works: it is kept");
        assert!(s.auto_refresh && !s.needs_login(), "an outage is not a login: {s:?}");
        assert!(s.message.starts_with("broker unreachable, retrying in"), "{}", s.message);
        assert!(s.last_error_message.as_deref().unwrap().contains("HTTP 503"));
        assert_eq!(engine.tokens("oauth").await.unwrap(), token);
        clock.advance(Span::seconds(50));
        engine.wake();
    }
    // The broker answers again: the next retry renews the token.
    w.sandbox.clear_faults();
    clock.advance(Span::seconds(50));
    engine.wake();
    // Not `retry_at` alone: it is also empty while the retry is in flight.
    eventually("a renewed token", || {
        let s = engine.status("oauth").unwrap();
        s.state == State::Valid && s.last_error.is_none()
    })
    .await;
    let s = engine.status("oauth").unwrap();
    assert_eq!((s.state, s.level, s.last_error), (State::Valid, Level::Green, None));
    assert_ne!(engine.tokens("oauth").await.unwrap(), token);
    engine.shutdown();
}

#[tokio::test]
async fn a_token_another_process_stored_is_picked_up() {
    let w = world("adopt", None).await;
    let daemon = w.engine();
    let _watch = tokentray_runtime::watch::watch(&daemon, &w.dir.join("config.toml"), Box::new(|_| {})).unwrap();
    let mut events = daemon.subscribe();
    let cli = w.engine();
    log_in(&cli, "kite").await;
    let changed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let e = events.recv().await.unwrap();
            if e.account == "kite" && e.kind == EventKind::TokenChanged {
                return;
            }
        }
    })
    .await;
    assert!(changed.is_ok(), "the daemon noticed the new token");
    assert_eq!(daemon.status("kite").unwrap().state, State::Valid);
    assert_eq!(daemon.tokens("kite").await.unwrap(), cli.tokens("kite").await.unwrap());
}

#[tokio::test]
async fn an_invalid_config_edit_is_ignored_and_a_valid_one_applied() {
    let w = world("config-edit", None).await;
    let engine = w.engine();
    let path = w.dir.join("config.toml");
    let (tx, mut invalid) = tokio::sync::mpsc::unbounded_channel();
    let _watch = tokentray_runtime::watch::watch(
        &engine,
        &path,
        Box::new(move |e| {
            let _ = tx.send(e.to_string());
        }),
    )
    .unwrap();
    let good = std::fs::read_to_string(&path).unwrap();
    tokentray_adapters::atomic::write(&path, format!("{good}\n[[account]]\nid = \"kite\"\n").as_bytes(), 0o600)
        .unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), invalid.recv()).await.unwrap().unwrap();
    assert!(message.contains("config.toml:") && message.contains("provider"), "{message}");
    assert_eq!(engine.config().accounts.len(), 2, "still on the last good config");

    // (That reading the file is no edit, so a bad one is reported once and
    // not in a loop, is `watch`'s own test, on the events a read raises.)
    let renamed = good.replace("id = \"kite\"", "id = \"kite-main\"");
    tokentray_adapters::atomic::write(&path, renamed.as_bytes(), 0o600).unwrap();
    eventually("the valid edit applied", || engine.config().account("kite-main").is_some()).await;
    assert!(invalid.try_recv().is_err(), "the bad edit was reported once");
    assert!(engine.status("kite").is_err(), "the removed account stopped");
    assert_eq!(engine.status("kite-main").unwrap().state, State::NoToken);
}

#[tokio::test]
async fn a_restarted_engine_checks_its_token_first() {
    let w = world("restart", None).await;
    let first = w.engine();
    log_in(&first, "kite").await;
    drop(first);
    w.sandbox.expire_access_tokens();
    let engine = w.engine();
    assert_eq!(engine.status("kite").unwrap().state, State::Valid, "by the clock");
    let _scheduler = engine.spawn_scheduler();
    eventually("validation found the token dead", || engine.status("kite").unwrap().state == State::NeedsLogin).await;
    let s = engine.status("kite").unwrap();
    assert_eq!(s.level, Level::Expired);
    assert!(s.last_error_message.unwrap().contains("TokenException"));
    engine.shutdown();
}

#[tokio::test]
async fn logout_revokes_and_forgets() {
    let w = world("logout", None).await;
    let engine = w.engine();
    log_in(&engine, "kite").await;
    engine.logout("kite").await.unwrap();
    assert_eq!(engine.status("kite").unwrap().state, State::NoToken);
    assert!(w.sandbox.live_access_tokens().is_empty());
    assert!(tokentray_adapters::store::SecretStore::tokens(&store(&w.dir), "kite").unwrap().is_none());
    assert!(engine.tokens("kite").await.is_err());
}

/// A data directory another user owns could be read or swapped by them:
/// the engine does not start on it. (Needs root to hand a directory to
/// another uid, as in CI; elsewhere only the start on an own directory is checked.)
#[cfg(unix)]
#[tokio::test]
async fn a_data_directory_of_another_user_is_refused() {
    use std::os::unix::fs::MetadataExt;
    let w = world("engine-foreign-data", None).await;
    let data = w.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let me = std::fs::metadata(&w.dir).unwrap().uid();
    if me == 0 && std::os::unix::fs::chown(&data, Some(65534), Some(65534)).is_ok() {
        let e = tokentray_runtime::Engine::new(
            w.config.clone(),
            tokentray_runtime::EngineOptions {
                data_dir: data.clone(),
                store: std::sync::Arc::new(store(&w.dir)),
                clock: std::sync::Arc::new(tokentray_runtime::SystemClock),
                notifier: std::sync::Arc::new(tokentray_runtime::LogNotifier),
            },
        )
        .err()
        .expect("refused");
        assert!(e.to_string().contains("TOKENTRAY_DATA_DIR"), "{e}");
        std::os::unix::fs::chown(&data, Some(0), Some(0)).unwrap();
    }
    assert!(w.engine().status("kite").is_ok(), "its own directory is fine");
}

/// Notices as they reach the desktop: each call, one or several at once.
#[derive(Default)]
struct Recorded(std::sync::Mutex<Vec<Vec<(String, String)>>>);

impl tokentray_runtime::Notifier for Recorded {
    fn notify(&self, account: &tokentray_runtime::AccountName, notice: &tokentray_core::Notice) {
        self.0.lock().unwrap().push(vec![(account.id.clone(), notice.summary(&account.label))]);
    }

    fn notify_all(&self, notices: &[(tokentray_runtime::AccountName, tokentray_core::Notice)]) {
        let batch = notices.iter().map(|(a, n)| (a.id.clone(), n.summary(&a.label))).collect();
        self.0.lock().unwrap().push(batch);
    }
}

/// The world's config with a second login on one of its apps (`account`, a
/// TOML table's lines without the id), its api secret stored, and an engine on
/// it with `clock` and `notifier`.
fn with_second_account(
    w: &World,
    id: &str,
    account: &str,
    secret: &str,
    clock: Arc<ManualClock>,
    notifier: Arc<dyn tokentray_runtime::Notifier>,
) -> tokentray_runtime::Engine {
    let mut text = std::fs::read_to_string(&w.config.path).unwrap();
    text += &format!("\n[[account]]\nid = \"{id}\"\n{account}");
    std::fs::write(&w.config.path, text).unwrap();
    let config = tokentray_adapters::config::Config::load(&w.config.path).unwrap();
    let secret = tokentray_adapters::Secret::new(secret);
    store(&w.dir).set(id, tokentray_adapters::store::SecretItem::ApiSecret, &secret).unwrap();
    let options = tokentray_runtime::EngineOptions {
        data_dir: w.dir.join("data"),
        store: Arc::new(store(&w.dir)),
        clock,
        notifier,
    };
    tokentray_runtime::Engine::new(config, options).unwrap()
}

#[tokio::test]
async fn accounts_due_at_one_moment_after_a_resume_are_told_together() {
    let w = world("resume-together", None).await;
    // A second Kite login on the same app: two tokens that die at 06:00 IST.
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let recorded = Arc::new(Recorded::default());
    let base = w.sandbox.url();
    let kite2 = format!(
        "provider = \"kite\"\napi_key = \"kitekey\"\nredirect_uri = \"http://127.0.0.1:{}/kite/cb\"\n\
         api_base = \"{base}\"\nlogin_base = \"{base}\"\n",
        w.kite_port
    );
    let engine = with_second_account(&w, "kite2", &kite2, "kitesecret", clock.clone(), recorded.clone());
    log_in(&engine, "kite").await;
    log_in(&engine, "kite2").await;
    recorded.0.lock().unwrap().clear();
    w.sandbox.clear_requests();

    // The laptop slept through the night: both tokens died at 06:00 IST.
    let _scheduler = engine.spawn_scheduler();
    clock.set(tokentray_core::expiry::KITE_CUTOFF.next_after(chrono::Utc::now()) + Span::hours(2));
    engine.wake();
    let together = || {
        recorded
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|batch| batch.len() == 2 && batch.iter().all(|(_, summary)| summary.ends_with("token expired")))
    };
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        while !together() {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    });
    waited.await.unwrap_or_else(|_| panic!("one call with both expiries: {:?}", recorded.0.lock().unwrap()));
    let calls = recorded.0.lock().unwrap().clone();
    let alone = calls.iter().filter(|b| b.len() == 1 && b[0].1.ends_with("token expired")).count();
    assert_eq!(alone, 0, "no account told apart from the other: {calls:?}");
    engine.shutdown();
}

#[tokio::test]
async fn calls_to_one_broker_after_a_resume_go_one_after_the_other() {
    let w = world("resume-spaced", None).await;
    // A second Schwab-style login on the same app.
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let oauth2 = format!(
        "provider = \"schwab\"\napi_key = \"oauthid\"\nredirect_uri = \"http://127.0.0.1:{}/cb\"\napi_base = \"{}\"\n",
        w.oauth_port,
        w.sandbox.url()
    );
    let notifier = Arc::new(tokentray_runtime::LogNotifier);
    let engine = with_second_account(&w, "oauth2", &oauth2, "oauthsecret", clock.clone(), notifier);
    log_in(&engine, "oauth").await;
    log_in(&engine, "oauth2").await;
    w.sandbox.clear_requests();

    // Two hours asleep: both 30-minute tokens are dead, their refresh tokens are not.
    let _scheduler = engine.spawn_scheduler();
    clock.advance(Span::hours(2));
    engine.wake();
    eventually("both renewed", || w.sandbox.requests_to("/v1/oauth/token").len() == 2).await;
    let calls = w.sandbox.requests_to("/v1/oauth/token");
    let apart = calls[1].arrived - calls[0].arrived;
    assert!(apart >= Duration::from_millis(900), "calls to one broker only {apart:?} apart");
    // (The sandbox ends the first login's grant when the second logs in as the same user: only the
    // spacing is this test's business.)
    engine.shutdown();
}

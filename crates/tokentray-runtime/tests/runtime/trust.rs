//! What a trader must be able to believe, tried against the sandbox broker
//! over loopback: a token revoked at the broker is known at once when a
//! script reports it; an outage never reads as "log in"; a grant the secret
//! store refuses is kept, served and saved later; a grant a crash left in the
//! journal is stored at the next start; a replayed event tells its own time.

use crate::common::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokentray_adapters::store::state::StateFile;
use tokentray_adapters::store::{SecretStore, TokenSet};
use tokentray_core::{Level, State};
use tokentray_runtime::{EventKind, Remedy};
use tokentray_sandbox::{Endpoint, Fault};

#[tokio::test]
async fn a_token_revoked_at_the_broker_is_known_as_soon_as_a_script_reports_it() {
    let w = world("trust-revoked", None).await;
    let engine = w.engine();
    log_in(&engine, "kite").await;
    let (addr, _api) = tokentray_runtime::api::serve(engine.clone(), 0).await.unwrap();
    let key = engine.api_key().await.unwrap();
    let mut events = engine.subscribe();
    // A login elsewhere ends this session at the broker.
    w.sandbox.expire_access_tokens();
    assert_eq!(engine.status("kite").unwrap().state, State::Valid, "the clock alone still says valid");
    w.sandbox.clear_requests();
    // Ten bot threads get a 403 at once and report it.
    let http = reqwest::Client::new();
    let reports: Vec<_> = (0..10)
        .map(|_| http.post(format!("http://{addr}/v1/accounts/kite/check")).bearer_auth(key.expose()).send())
        .collect();
    let answers = futures_util::future::join_all(reports).await;
    for a in answers {
        let a = a.unwrap();
        assert_eq!(a.status(), 409);
        let body: serde_json::Value = a.json().await.unwrap();
        assert_eq!(body["remedy"], "login");
        assert!(body["error"].as_str().unwrap().contains("the broker ended this token"), "{body}");
    }
    assert_eq!(w.sandbox.requests_to("/user/profile").len(), 1, "a burst of reports shares one provider call");
    let s = engine.status("kite").unwrap();
    assert_eq!((s.state, s.level), (State::NeedsLogin, Level::Expired));
    let err = engine.current_token("kite").await.unwrap_err();
    assert_eq!(err.remedy(), Remedy::Login, "a rejected token is never handed out: {err}");
    let kinds: Vec<EventKind> = std::iter::from_fn(|| events.try_recv().ok()).map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::TokenInvalid), "{kinds:?}");
    // Every other process agrees: the state file says so.
    let saved = StateFile::in_dir(&w.dir.join("data")).load().unwrap();
    assert!(saved.accounts["kite"].standing.access_rejected);
    let other = w.engine();
    assert_eq!(other.status("kite").unwrap().state, State::NeedsLogin);
    // A report without the key is refused.
    let r = http.post(format!("http://{addr}/v1/accounts/kite/check")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    engine.shutdown();
}

#[tokio::test]
async fn refresh_on_a_provider_that_cannot_renew_asks_the_broker() {
    let w = world("trust-kite-refresh", None).await;
    let engine = w.engine();
    log_in(&engine, "kite").await;
    let s = engine.refresh_or_check("kite").await.unwrap();
    assert_eq!(s.state, State::Valid);
    w.sandbox.inject(Endpoint::KiteProfile, Fault::Status { code: 503 }, Some(1));
    let e = engine.check("kite").await.unwrap_err();
    assert_eq!(e.remedy(), Remedy::Retry, "could not tell: {e}");
    assert_eq!(engine.status("kite").unwrap().state, State::Valid, "the token is kept");
    w.sandbox.expire_access_tokens();
    let e = engine.refresh_or_check("kite").await.unwrap_err();
    assert_eq!(e.remedy(), Remedy::Login, "{e}");
}

#[tokio::test]
async fn garbage_429_and_5xx_are_retried_and_only_invalid_grant_asks_for_a_login() {
    let w = world("trust-outage", None).await;
    let engine = w.engine();
    log_in(&engine, "oauth").await;
    let token = engine.tokens("oauth").await.unwrap();
    for fault in [Fault::Status { code: 502 }, Fault::MalformedJson, Fault::RateLimit, Fault::Status { code: 404 }] {
        w.sandbox.inject(Endpoint::OAuth2Token, fault, Some(1));
        let e = engine.refresh("oauth").await.unwrap_err();
        assert_eq!(e.remedy(), Remedy::Retry, "{fault:?}: {e}");
        let s = engine.status("oauth").unwrap();
        assert!(s.auto_refresh && s.retry_at.is_some() && !s.needs_login(), "{fault:?}: {s:?}");
        assert_eq!(engine.tokens("oauth").await.unwrap(), token, "{fault:?}: the token is kept");
    }
    // While a retry is scheduled, a script's `token` gets the working token
    // and spends nothing.
    let before = w.sandbox.requests_to("/v1/oauth/token").len();
    assert_eq!(engine.current_token("oauth").await.unwrap(), token);
    assert_eq!(w.sandbox.requests_to("/v1/oauth/token").len(), before);
    w.sandbox.inject(Endpoint::OAuth2Token, Fault::InvalidToken, Some(1));
    let e = engine.refresh("oauth").await.unwrap_err();
    assert_eq!(e.remedy(), Remedy::Login, "{e}");
    let s = engine.status("oauth").unwrap();
    assert!(!s.auto_refresh && s.retry_at.is_none());
    assert_eq!(s.state, State::Valid, "the access token still works until its expiry");
}

#[tokio::test]
async fn a_grant_the_store_refuses_is_served_kept_and_saved_later() {
    let w = world("trust-pending", None).await;
    let (engine, refuse, seen) = refusing_engine(&w.config, &w.dir);
    log_in(&engine, "oauth").await;
    let state = StateFile::in_dir(&w.dir.join("data"));
    let old_meta = state.load().unwrap().accounts["oauth"].token.unwrap();
    refuse.store(true, Ordering::SeqCst);
    engine.refresh("oauth").await.unwrap();
    let served = engine.current_token("oauth").await.unwrap();
    assert_eq!(served.access_token.expose(), w.sandbox.live_access_tokens().last().unwrap());
    let saved = state.load().unwrap().accounts["oauth"].clone();
    assert_eq!(saved.token, Some(old_meta), "the state file describes the stored token only");
    assert!(saved.pending_save.is_some());
    assert!(engine.status("oauth").unwrap().message.contains("not saved yet"));
    let told: Vec<String> = seen.0.lock().unwrap().iter().filter(|n| n.contains("not saved")).cloned().collect();
    assert_eq!(told, ["oauth: new token not saved"], "the user is told once");
    assert!(w.dir.join("data/journal/oauth.grant").exists(), "the journal keeps the grant");
    // No provider refresh while the grant waits: it would spend its refresh token.
    let before = w.sandbox.requests_to("/v1/oauth/token").len();
    let e = engine.refresh("oauth").await.unwrap_err();
    assert_eq!(e.remedy(), Remedy::Retry, "{e}");
    assert_eq!(w.sandbox.requests_to("/v1/oauth/token").len(), before);
    // The store comes back: the retries save it.
    refuse.store(false, Ordering::SeqCst);
    eventually("the grant saved", || state.load().unwrap().accounts["oauth"].pending_save.is_none()).await;
    assert_eq!(store(&w.dir).tokens("oauth").unwrap().unwrap(), served);
    assert!(!w.dir.join("data/journal/oauth.grant").exists());
    engine.shutdown();
}

#[tokio::test]
async fn a_grant_a_crash_left_in_the_journal_is_stored_at_the_next_start() {
    let w = world("trust-journal", None).await;
    let (engine, refuse, _) = refusing_engine(&w.config, &w.dir);
    log_in(&engine, "oauth").await;
    refuse.store(true, Ordering::SeqCst);
    engine.refresh("oauth").await.unwrap();
    let newest: TokenSet = engine.current_token("oauth").await.unwrap();
    // The process dies here: the store never got the rotated token.
    engine.shutdown();
    drop(engine);
    assert_ne!(store(&w.dir).tokens("oauth").unwrap().unwrap(), newest);
    let next = w.engine();
    let done = next.recover(false).await.unwrap();
    assert_eq!(done.grants_replayed, 1);
    assert_eq!(store(&w.dir).tokens("oauth").unwrap().unwrap(), newest, "the rotated token survived");
    assert_eq!(next.current_token("oauth").await.unwrap(), newest);
    assert!(!w.dir.join("data/journal/oauth.grant").exists());
    // And it works at the broker: the refresh token in it is the live one.
    next.refresh("oauth").await.unwrap();
}

#[tokio::test]
async fn a_replayed_event_carries_the_values_of_its_time() {
    let w = world("trust-replay", None).await;
    let engine = w.engine();
    log_in(&engine, "kite").await;
    let valid = engine.events_since(0).unwrap().into_iter().rfind(|e| e.account == "kite").unwrap();
    w.sandbox.expire_access_tokens();
    let _ = engine.check("kite").await;
    let replay = engine.events_since(0).unwrap();
    let then = replay.iter().find(|e| e.id == valid.id).unwrap();
    assert_eq!(then.snapshot.unwrap().state, State::Valid, "the old event still says what was true then");
    assert_eq!(replay.last().unwrap().snapshot.unwrap().state, State::NeedsLogin);
    assert!(engine.events_since(u64::MAX).is_none(), "an absurd Last-Event-ID asks for a reset");
    assert!(engine.status("kite").is_ok(), "and takes nothing down");
}

#[tokio::test]
async fn the_redirect_uri_goes_out_as_configured() {
    let w = world("trust-redirect", None).await;
    let mut config = w.config.clone();
    let bare = format!("http://127.0.0.1:{}", w.oauth_port);
    for a in &mut config.accounts {
        if a.id == "oauth" {
            a.redirect_uri = tokentray_adapters::redirect_uri::RedirectUri::parse(&bare).unwrap();
        }
    }
    let client = tokentray_adapters::provider::ProviderClient::new(
        config.account("oauth").unwrap().clone(),
        tokentray_adapters::provider::http_client(Duration::from_secs(3)),
    );
    let attempt = client.begin_login(&tokentray_adapters::Secret::new("unused")).await.unwrap();
    let sent: Vec<_> =
        attempt.url.query_pairs().filter(|(k, _)| k == "redirect_uri").map(|(_, v)| v.into_owned()).collect();
    assert_eq!(sent, vec![bare.clone()], "no `/` added to {bare}");
}

#[tokio::test]
async fn a_rejection_another_process_learnt_reaches_the_running_engine() {
    let w = world("trust-adopt", None).await;
    let running = w.engine();
    log_in(&running, "kite").await;
    let mut events = running.subscribe();
    // `tokentray check kite` in another process, after a login elsewhere.
    w.sandbox.expire_access_tokens();
    let cli = w.engine();
    assert_eq!(cli.check("kite").await.unwrap_err().remedy(), Remedy::Login);
    // The running engine's watcher reads the state file on its change.
    running.adopt_all_from_disk().await.unwrap();
    let s = running.status("kite").unwrap();
    assert_eq!((s.state, s.level), (State::NeedsLogin, Level::Expired));
    assert_eq!(running.current_token("kite").await.unwrap_err().remedy(), Remedy::Login);
    let kinds: Vec<EventKind> = std::iter::from_fn(|| events.try_recv().ok()).map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::TokenInvalid), "{kinds:?}");
}

/// Past Schwab's 7-day refresh limit the last access token still works: the
/// account counts down to its death in red, and never says it renews itself.
#[tokio::test]
async fn past_the_schwab_refresh_limit_the_last_token_counts_down_in_red() {
    use tokentray_core::Span;
    let w = world("trust-day-seven", None).await;
    let clock = Arc::new(tokentray_runtime::ManualClock::new(chrono::Utc::now()));
    let engine = w.engine_with(clock.clone());
    log_in(&engine, "oauth").await;
    let login = engine.status("oauth").unwrap().login_at.unwrap();
    clock.set(login + Span::days(7) - Span::minutes(3));
    engine.refresh("oauth").await.unwrap();
    let before = engine.status("oauth").unwrap();
    assert!(before.auto_refresh);
    assert_eq!(before.act_by, Some(login + Span::days(7)), "log in by the limit");
    clock.advance(Span::minutes(4));
    for (who, e) in [("this process", &engine), ("another process", &w.engine_with(clock.clone()))] {
        let s = e.status("oauth").unwrap();
        assert!(!s.auto_refresh, "{who}: {s:?}");
        assert_eq!((s.state, s.level), (State::Valid, Level::Red), "{who}");
        assert_eq!(s.act_by, s.expires_at, "{who}: the last token's death is the moment to act");
        assert_eq!(s.countdown, "26m", "{who}");
        assert!(s.message.contains("log in before it expires"), "{who}: {}", s.message);
    }
}

/// A script asking for a dead token while a renewal is on the wire waits for
/// that renewal: when it fails in an outage, the script hears "retrying",
/// and the broker sees one call, not two (a second would spend a retry).
#[tokio::test]
async fn a_token_call_during_a_renewal_shares_its_outage_and_spends_no_retry() {
    use tokentray_core::Span;
    let w = world("trust-shared-outage", None).await;
    let clock = Arc::new(tokentray_runtime::ManualClock::new(chrono::Utc::now()));
    let engine = w.engine_with(clock.clone());
    log_in(&engine, "oauth").await;
    clock.advance(Span::hours(1));
    let before = w.sandbox.requests_to("/v1/oauth/token").len();
    w.sandbox.inject(Endpoint::OAuth2Token, Fault::HeldThenStatus { code: 503 }, Some(1));
    let renewal = tokio::spawn({
        let engine = engine.clone();
        async move { engine.refresh("oauth").await }
    });
    w.sandbox.wait_held(1).await;
    let script = tokio::spawn({
        let engine = engine.clone();
        async move { engine.current_token("oauth").await }
    });
    // The test runs on one thread: one yield lets the script's call run up
    // to the gate the renewal holds, where it waits.
    tokio::task::yield_now().await;
    w.sandbox.release_held();
    assert_eq!(renewal.await.unwrap().unwrap_err().remedy(), Remedy::Retry);
    let e = script.await.unwrap().unwrap_err();
    assert_eq!(e.remedy(), Remedy::Retry, "an outage, not a login: {e}");
    assert_eq!(w.sandbox.requests_to("/v1/oauth/token").len(), before + 1, "one call to the broker");
    engine.shutdown();
}

/// A wrong api secret is fixed with `secret set`, not a login: the error and
/// the notice say so, and nothing asks the user to log in.
#[tokio::test]
async fn a_rejected_api_secret_names_its_fix_and_never_asks_for_a_login() {
    use tokentray_adapters::store::SecretItem;
    let w = world("trust-wrong-secret", None).await;
    let first = w.engine();
    log_in(&first, "oauth").await;
    first.shutdown();
    store(&w.dir).set("oauth", SecretItem::ApiSecret, &tokentray_adapters::Secret::new("wrong")).unwrap();
    let (engine, _, seen) = refusing_engine(&w.config, &w.dir);
    let e = engine.refresh("oauth").await.unwrap_err();
    assert_eq!(e.remedy(), Remedy::Secret, "{e}");
    assert!(e.to_string().contains("`tokentray secret set oauth`"), "{e}");
    let s = engine.status("oauth").unwrap();
    assert_eq!(s.state, State::Valid, "the token still works: {}", s.message);
    assert!(s.message.contains("tokentray secret set oauth"), "{}", s.message);
    let told = seen.0.lock().unwrap().clone();
    assert_eq!(told, ["oauth: refresh failed"], "no \"login needed\": a login would not fix it");
    engine.shutdown();
}

/// A provider with no call to check a token with (OAuth2 without
/// `profile_url`) is checked by a renewal: a script's report gets a working
/// token, or "log in" when the provider says the grant is dead.
#[tokio::test]
async fn a_check_without_a_profile_call_renews_instead() {
    use tokentray_adapters::config::Config;
    let w = world("trust-check-by-renewal", None).await;
    let endpoints: String = w
        .sandbox
        .oauth2_endpoints_toml()
        .lines()
        .filter(|l| !l.starts_with("profile_url"))
        .map(|l| l.to_owned() + "\n")
        .collect();
    let text = std::fs::read_to_string(w.dir.join("config.toml"))
        .unwrap()
        .replace("provider = \"schwab\"", "provider = \"oauth2\"")
        + "[account.oauth2]\n"
        + &endpoints;
    std::fs::write(w.dir.join("config.toml"), text).unwrap();
    let config = Config::load(&w.dir.join("config.toml")).unwrap();
    let engine = World::engine_for(&config, &w.dir);
    log_in(&engine, "oauth").await;
    let old = engine.current_token("oauth").await.unwrap();
    let status = engine.check("oauth").await.unwrap();
    assert_eq!(status.state, State::Valid);
    let renewed = engine.current_token("oauth").await.unwrap();
    assert_ne!(renewed.access_token, old.access_token, "renewed");
    // A burst of reports (a script reporting every 401) renews once in 30 s.
    let calls = w.sandbox.requests_to("/v1/oauth/token").len();
    for _ in 0..5 {
        assert_eq!(engine.check("oauth").await.unwrap().state, State::Valid);
    }
    assert_eq!(w.sandbox.requests_to("/v1/oauth/token").len(), calls, "no renewal per report");
    assert_eq!(engine.current_token("oauth").await.unwrap(), renewed);
    // Past the gap, a grant the provider ended says "log in".
    let later = World::engine_for(&config, &w.dir);
    w.sandbox.inject(Endpoint::OAuth2Token, Fault::InvalidToken, Some(1));
    let e = later.check("oauth").await.unwrap_err();
    assert_eq!(e.remedy(), Remedy::Login, "{e}");
    later.shutdown();
    engine.shutdown();
}

/// Credentials the broker keeps refusing are not tried again, by any
/// process or path, before the broker could lock the account; storing new
/// ones lets TokenTray try again.
#[tokio::test]
async fn refused_credentials_stop_before_a_lock_out_and_new_ones_are_tried() {
    use tokentray_adapters::store::SecretItem;
    let w = world("trust-lockout", None).await;
    let first = w.engine();
    log_in(&first, "oauth").await;
    first.shutdown();
    store(&w.dir).set("oauth", SecretItem::ApiSecret, &tokentray_adapters::Secret::new("wrong")).unwrap();
    let engine = w.engine();
    let calls = || w.sandbox.requests_to("/v1/oauth/token").len();
    let before = calls();
    let tries = w.config.account("oauth").unwrap().credential_tries();
    for _ in 0..tries {
        let e = engine.refresh("oauth").await.unwrap_err();
        assert!(e.to_string().contains("rejected the api key or secret"), "{e}");
    }
    assert_eq!(calls(), before + tries as usize, "each try reached the broker");
    let e = engine.refresh("oauth").await.unwrap_err();
    assert_eq!(e.remedy(), Remedy::Secret, "{e}");
    assert!(e.to_string().contains("not tried again") && e.to_string().contains("tokentray secret set oauth"), "{e}");
    let other = w.engine();
    assert!(other.refresh("oauth").await.unwrap_err().to_string().contains("not tried again"), "every process");
    assert_eq!(calls(), before + tries as usize, "nothing more reached the broker");
    // Logins' exchanges are counted apart, and stopped the same way.
    let log_in = || engine.login("oauth", tokentray_runtime::login::LoginOptions::following_redirects());
    for _ in 0..tries {
        assert!(log_in().await.unwrap_err().to_string().contains("rejected the api key or secret"));
    }
    let e = log_in().await.unwrap_err();
    assert!(e.to_string().contains("not tried again"), "{e}");
    assert_eq!(calls(), before + 2 * tries as usize, "the last login never reached the broker");
    assert_eq!(engine.status("oauth").unwrap().state, State::Valid, "the token still works meanwhile");
    // Another api key in the config: the refused credentials are not these.
    let state = || std::fs::read_to_string(w.dir.join("data/state.json")).unwrap();
    assert!(state().contains("renewals_refused"), "{}", state());
    let mut other_key = w.config.clone();
    other_key.accounts.iter_mut().find(|a| a.id == "oauth").unwrap().api_key = "another".into();
    engine.apply_config(other_key);
    eventually("the counts start again", || {
        !state().contains("renewals_refused") && !state().contains("logins_refused")
    })
    .await;
    engine.apply_config(w.config.clone());
    // The right secret, stored through the window or `secret set`: tried again.
    engine.set_api_secret("oauth", tokentray_adapters::Secret::new("oauthsecret")).await.unwrap();
    engine.refresh("oauth").await.expect("the new secret is tried, and works");
    other.shutdown();
    engine.shutdown();
}

#[tokio::test]
async fn ready_over_the_api_takes_the_key_and_never_calls_an_outage_ready() {
    let w = world("trust-ready", None).await;
    let engine = w.engine();
    log_in(&engine, "kite").await;
    let (addr, _api) = tokentray_runtime::api::serve(engine.clone(), 0).await.unwrap();
    let key = engine.api_key().await.unwrap();
    let http = reqwest::Client::new();
    // It calls the broker: only with the key.
    let r = http.post(format!("http://{addr}/v1/ready")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http.post(format!("http://{addr}/v1/accounts/kite/ready")).bearer_auth(key.expose()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let all: serde_json::Value = r.json().await.unwrap();
    assert_eq!(all[0]["ready"], true, "{all}");
    assert_eq!(all[0]["ip"]["outcome"], "not_checked", "Kite exposes no static IPs: {all}");
    // The broker down: "could not tell", never ready, and the token is kept.
    w.sandbox.inject(Endpoint::KiteProfile, Fault::Status { code: 503 }, Some(1));
    let r = http.post(format!("http://{addr}/v1/accounts/kite/ready")).bearer_auth(key.expose()).send().await.unwrap();
    let all: serde_json::Value = r.json().await.unwrap();
    assert_eq!(all[0]["ready"], false, "{all}");
    assert_eq!(all[0]["token"]["outcome"], "unknown", "{all}");
    assert_eq!(engine.status("kite").unwrap().state, State::Valid, "the token is kept");
    let r =
        http.post(format!("http://{addr}/v1/accounts/nosuch/ready")).bearer_auth(key.expose()).send().await.unwrap();
    assert_eq!(r.status(), 404);
    engine.shutdown();
}

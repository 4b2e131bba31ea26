//! Alerts through the whole engine to stand-ins for each service on
//! loopback (real HTTP; the request shapes their documentation gives): a
//! webhook (signed), an ntfy server, the Telegram Bot API, and a command.
//! Each gets the event once and never a token; a failing service is retried
//! with backoff and holds up no other; a refusal says what fixes it.

use crate::common::*;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use hmac::{Hmac, Mac};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokentray_adapters::config::Config;
use tokentray_adapters::store::{SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_runtime::alerts::{outcomes, AlertOutcome};
use tokio::sync::mpsc;

/// A request a stand-in received.
#[derive(Debug, Clone)]
struct Received {
    service: &'static str,
    when: std::time::Instant,
    path: String,
    headers: HeaderMap,
    body: String,
}

/// The answers a stand-in gives, in order; after them, success.
type Script = Arc<Mutex<VecDeque<(StatusCode, String, Option<u64>)>>>;

#[derive(Clone)]
struct Services {
    received: mpsc::UnboundedSender<Received>,
    scripts: Arc<Mutex<std::collections::HashMap<&'static str, Script>>>,
}

impl Services {
    fn reply(&self, service: &'static str, path: String, headers: HeaderMap, body: String) -> axum::response::Response {
        let _ = self.received.send(Received { service, when: std::time::Instant::now(), path, headers, body });
        let script = self.scripts.lock().unwrap().get(service).cloned();
        let next = script.and_then(|s| s.lock().unwrap().pop_front());
        match next {
            Some((status, body, retry_after)) => {
                let mut response = (status, body).into_response();
                if let Some(secs) = retry_after {
                    response.headers_mut().insert("retry-after", secs.to_string().parse().unwrap());
                }
                response
            }
            None if service == "telegram" => {
                (StatusCode::OK, r#"{"ok":true,"result":{"message_id":1}}"#).into_response()
            }
            None => (StatusCode::OK, r#"{"id":"x"}"#).into_response(),
        }
    }

    fn script(&self, service: &'static str, answers: Vec<(StatusCode, &str, Option<u64>)>) {
        let answers = answers.into_iter().map(|(s, b, r)| (s, b.to_owned(), r)).collect();
        self.scripts.lock().unwrap().insert(service, Arc::new(Mutex::new(answers)));
    }
}

/// Serves the stand-ins on one loopback port; returns its base URL.
async fn stand_ins() -> (String, Services, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let services = Services { received: tx, scripts: Default::default() };
    let app = axum::Router::new()
        .route(
            "/hooks/tokentray",
            post(|State(s): State<Services>, h: HeaderMap, body: String| async move {
                s.reply("webhook", "/hooks/tokentray".into(), h, body)
            }),
        )
        .route(
            "/ntfy/",
            post(|State(s): State<Services>, h: HeaderMap, body: String| async move {
                s.reply("ntfy", "/ntfy/".into(), h, body)
            }),
        )
        .route(
            "/bot{token}/sendMessage",
            post(|State(s): State<Services>, UrlPath(token): UrlPath<String>, h: HeaderMap, body: String| async move {
                s.reply("telegram", format!("/bot{token}/sendMessage"), h, body)
            }),
        )
        .with_state(services.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, services, rx)
}

/// The next request any stand-in receives (a minute at most: the suite runs on a loaded machine).
async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(60), rx.recv()).await.expect("a request arrives").expect("open")
}

/// An executable shell script in `dir`.
fn script(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// The world's config with `alerts` added, and the alerts' secrets stored.
fn with_alerts(world: &World, alerts: &str) -> Config {
    let mut text = std::fs::read_to_string(&world.config.path).unwrap();
    text.push_str(alerts);
    std::fs::write(&world.config.path, &text).unwrap();
    Config::load(&world.config.path).unwrap()
}

/// Waits until `alerts.json` has a result for `name` about `event` (a
/// minute at most: retries wait 2, 4, 8 s on a loaded machine).
async fn outcome(dir: &std::path::Path, name: &str, event: &str) -> AlertOutcome {
    let data = dir.join("data");
    let found = || outcomes(&data).into_iter().find(|o| o.name == name && o.event == event);
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while found().is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    waited.await.unwrap_or_else(|_| panic!("no result for {name} about {event}: {:?}", outcomes(&data)));
    found().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_channel_gets_the_event_as_its_service_documents_it_and_never_a_token() {
    let w = world("alerts-channels", None).await;
    let (base, _services, mut rx) = stand_ins().await;
    let got = w.dir.join("command-got.json");
    let script = script(&w.dir, "alert.sh", &format!("cat > '{}'", got.display()));
    let events = r#"events = ["login_done", "token_revoked"]"#;
    let config = with_alerts(
        &w,
        &format!(
            r#"
[[alert]]
name = "hook"
type = "webhook"
url = "{base}/hooks/tokentray"
{events}

[[alert]]
name = "phone"
type = "ntfy"
url = "{base}/ntfy/tokentray-kite"
{events}
accounts = ["kite"]

[[alert]]
name = "bot"
type = "telegram"
chat_id = "-100123"
api_base = "{base}"
{events}

[[alert]]
name = "pager"
type = "command"
command = ["{}", "--quiet"]
{events}
"#,
            script.display()
        ),
    );
    let store = store(&w.dir);
    store.set("hook", SecretItem::AlertSecret, &Secret::new("hook-signing-key")).unwrap();
    store.set("phone", SecretItem::AlertSecret, &Secret::new("tk_ntfyaccess")).unwrap();
    store.set("bot", SecretItem::AlertSecret, &Secret::new("123456:BOTTOKEN")).unwrap();
    let engine = World::engine_for(&config, &w.dir);

    log_in(&engine, "kite").await;
    let token = engine.current_token("kite").await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(next(&mut rx).await);
    }
    let by =
        |service: &str| seen.iter().find(|r| r.service == service).unwrap_or_else(|| panic!("{service}: {seen:?}"));
    let (bot, hook, phone) = (by("telegram"), by("webhook"), by("ntfy"));

    // The webhook: the event as JSON, signed with the key that never travels.
    let message: serde_json::Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(message["event"], "login_done");
    assert_eq!(message["account"], "kite");
    assert_eq!(message["provider"], "kite");
    assert_eq!(message["test"], false);
    let timestamp = hook.headers["x-tokentray-timestamp"].to_str().unwrap();
    let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "the time it was sent: {timestamp}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"hook-signing-key").unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(hook.body.as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hook.headers["x-tokentray-signature-256"], format!("sha256={expected}").as_str());
    assert_eq!(hook.headers["x-tokentray-event"], "login_done");

    // ntfy: JSON publishing to the server's root, the topic inside, its access token as a bearer.
    let ntfy: serde_json::Value = serde_json::from_str(&phone.body).unwrap();
    assert_eq!(ntfy["topic"], "tokentray-kite");
    assert_eq!(ntfy["priority"], 2, "good news is low priority");
    assert!(ntfy["title"].as_str().unwrap().contains("logged in"), "{ntfy}");
    assert_eq!(phone.headers["authorization"], "Bearer tk_ntfyaccess");

    // Telegram: sendMessage with the bot token in the path and the chat id.
    assert_eq!(bot.path, "/bot123456:BOTTOKEN/sendMessage");
    let telegram: serde_json::Value = serde_json::from_str(&bot.body).unwrap();
    assert_eq!(telegram["chat_id"], "-100123");
    assert!(telegram["text"].as_str().unwrap().starts_with("kite: logged in\n"), "{telegram}");

    // The command got the same JSON on its standard input.
    tokentray_testkit::eventually("the command ran", || std::fs::read_to_string(&got).is_ok_and(|t| t.ends_with('}')))
        .await;
    let from_command: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&got).unwrap()).unwrap();
    assert_eq!(from_command["event"], "login_done");

    // A login elsewhere ends the token; the check's verdict goes out too, once per alert.
    w.sandbox.expire_access_tokens();
    assert!(engine.check("kite").await.is_err());
    let mut revoked: Vec<&'static str> = Vec::new();
    for _ in 0..3 {
        let r = next(&mut rx).await;
        seen.push(r.clone());
        // Telegram gets words for people; the others the event's name too.
        let expected = if r.service == "telegram" { "The broker ended this token" } else { "token_revoked" };
        assert!(r.body.contains(expected), "{}: {}", r.service, r.body);
        assert!(!r.body.contains("Act by"), "a dead token's expiry is no moment to act by: {}", r.body);
        revoked.push(r.service);
    }
    revoked.sort();
    assert_eq!(revoked, ["ntfy", "telegram", "webhook"]);
    for name in ["hook", "phone", "bot", "pager"] {
        let o = outcome(&w.dir, name, "token_revoked").await;
        assert!(o.delivered && o.attempts == 1, "{o:?}");
    }
    // Never a token, anywhere an alert went.
    for r in seen.iter() {
        assert!(!r.body.contains(token.access_token.expose()), "{} got the token", r.service);
    }
    assert!(!std::fs::read_to_string(&got).unwrap().contains(token.access_token.expose()));
    // (Once per event and token, across processes, is tested with two `Alerts` below.)
    engine.stop(Duration::from_secs(10)).await;
    assert!(rx.try_recv().is_err(), "each alert once per event: {:?}", rx.try_recv());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_service_is_retried_and_holds_up_no_other_and_a_refusal_says_what_fixes_it() {
    let w = world("alerts-failures", None).await;
    let (base, services, mut rx) = stand_ins().await;
    let closed = free_port();
    let config = with_alerts(
        &w,
        &format!(
            r#"
[[alert]]
name = "hook"
type = "webhook"
url = "{base}/hooks/tokentray"
events = ["login_done"]

[[alert]]
name = "phone"
type = "ntfy"
url = "{base}/ntfy/topic"
events = ["login_done"]

[[alert]]
name = "bot"
type = "telegram"
chat_id = "42"
api_base = "{base}"
events = ["login_done"]

[[alert]]
name = "nobot"
type = "telegram"
chat_id = "42"
api_base = "{base}"
events = ["login_done"]

[[alert]]
name = "offline"
type = "telegram"
chat_id = "42"
api_base = "http://127.0.0.1:{closed}"
events = ["login_done"]
"#
        ),
    );
    store(&w.dir).set("bot", SecretItem::AlertSecret, &Secret::new("1:T")).unwrap();
    store(&w.dir).set("offline", SecretItem::AlertSecret, &Secret::new("99:OFFLINESECRET")).unwrap();
    // The webhook is down twice, then up; ntfy refuses the topic; Telegram asks to wait a second.
    services
        .script("webhook", vec![(StatusCode::BAD_GATEWAY, "down", None), (StatusCode::SERVICE_UNAVAILABLE, "", None)]);
    services.script("ntfy", vec![(StatusCode::FORBIDDEN, r#"{"error":"forbidden"}"#, None)]);
    let too_many = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#;
    services.script("telegram", vec![(StatusCode::TOO_MANY_REQUESTS, too_many, None)]);
    let engine = World::engine_for(&config, &w.dir);
    log_in(&engine, "kite").await;

    let phone = outcome(&w.dir, "phone", "login_done").await;
    assert!(!phone.delivered && phone.attempts == 1, "a refusal is not retried: {phone:?}");
    let why = phone.error.unwrap();
    assert!(why.contains("HTTP 403") && why.contains("tokentray secret set --alert phone"), "{why}");
    let nobot = outcome(&w.dir, "nobot", "login_done").await;
    assert!(!nobot.delivered, "{nobot:?}");
    assert!(nobot.error.unwrap().contains("tokentray secret set --alert nobot"));

    let bot = outcome(&w.dir, "bot", "login_done").await;
    assert!(bot.delivered && bot.attempts == 2, "{bot:?}");
    let hook = outcome(&w.dir, "hook", "login_done").await;
    assert!(hook.delivered && hook.attempts == 3, "{hook:?}");
    let mut calls = std::collections::HashMap::new();
    let mut telegram = Vec::new();
    while let Ok(r) = rx.try_recv() {
        *calls.entry(r.service).or_insert(0) += 1;
        if r.service == "telegram" {
            telegram.push(r.when);
        }
    }
    let waited = telegram[1] - telegram[0];
    assert!(waited >= Duration::from_millis(2900), "Telegram's retry_after of 3 s was honoured: {waited:?}");
    assert_eq!(calls.get("webhook"), Some(&3));
    assert_eq!(calls.get("telegram"), Some(&2), "the bot without a token never called");
    assert!(!engine.status("kite").unwrap().message.contains("alert"), "an alert's trouble is not the account's");
    let offline = outcome(&w.dir, "offline", "login_done").await;
    assert!(!offline.delivered && offline.attempts == 5, "a closed port is retried: {offline:?}");
    let recorded = std::fs::read_to_string(w.dir.join("data/alerts.json")).unwrap();
    assert!(!recorded.contains("OFFLINESECRET"), "the bot token is in no error: {recorded}");
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_hangs_is_stopped_and_a_test_message_reaches_each_alert() {
    let w = world("alerts-command", None).await;
    let (base, _services, mut rx) = stand_ins().await;
    let pid_file = w.dir.join("hang.pid");
    let hang = script(&w.dir, "hang.sh", &format!("echo $$ > '{}'\nexec sleep 600", pid_file.display()));
    let config = with_alerts(
        &w,
        &format!(
            r#"
[[alert]]
name = "stuck"
type = "command"
command = ["{}"]
timeout = "15s"

[[alert]]
name = "hook"
type = "webhook"
url = "{base}/hooks/tokentray"
"#,
            hang.display()
        ),
    );
    let engine = World::engine_for(&config, &w.dir);
    let outcomes = engine.test_alerts(None).await.expect("alerts exist");
    let by_name = |n: &str| outcomes.iter().find(|o| o.name == n).unwrap().clone();
    let stuck = by_name("stuck");
    assert!(!stuck.delivered && stuck.error.as_deref().unwrap().contains("did not finish within 15s"), "{stuck:?}");
    assert_eq!(stuck.attempts, 1, "a hang is not tried again");
    // 15 s, not less: a shell on a machine busy compiling can take seconds to start.
    let pid: i32 = std::fs::read_to_string(&pid_file).expect("the command started within 15 s").trim().parse().unwrap();
    // Gone, or a zombie nobody waits for: either way no longer running.
    let running = || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    tokentray_testkit::eventually("the stuck command was killed", || !running()).await;
    assert!(by_name("hook").delivered);
    let test = next(&mut rx).await;
    let message: serde_json::Value = serde_json::from_str(&test.body).unwrap();
    assert_eq!(message["test"], true);
    assert_eq!(message["event"], "test", "no receiver takes a test for a login");
    assert!(engine.test_alerts(Some("nope")).await.is_none(), "an unknown name is said so");
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_about_a_token_is_sent_once_even_by_another_process() {
    use tokentray_adapters::config::alerts::{AlertConfig, AlertEvent, Channel};
    use tokentray_runtime::alerts::message::AlertMessage;
    use tokentray_runtime::alerts::Alerts;
    let dir = scratch("alerts-once");
    let (base, _services, mut rx) = stand_ins().await;
    let hook = AlertConfig {
        name: "hook".into(),
        channel: Channel::Webhook { url: format!("{base}/hooks/tokentray").parse().unwrap() },
        events: vec![AlertEvent::Red],
        accounts: None,
    };
    let store: Arc<dyn SecretStore> = Arc::new(store(&dir));
    let issued = chrono::Utc::now();
    let red = |token_issued| AlertMessage {
        account: "kite".into(),
        label: "Kite".into(),
        provider: "kite".into(),
        event: AlertEvent::Red,
        occasion: String::new(),
        level: tokentray_core::Level::Red,
        act_by: None,
        title: "Kite: log in within 45m".into(),
        message: "Less than the red threshold is left.".into(),
        at: chrono::Utc::now(),
        test: false,
        token_issued,
    };
    // Two processes (two `Alerts` on one data directory), the same event about the same token.
    let clock = Arc::new(tokentray_runtime::SystemClock);
    let alerts = |hook: AlertConfig| {
        Arc::new(Alerts::new(vec![hook], store.clone(), reqwest::Client::new(), &dir, clock.clone()))
    };
    let (first, second) = (alerts(hook.clone()), alerts(hook));
    first.send(&red(Some(issued)));
    next(&mut rx).await;
    tokentray_runtime::alerts::settle(Duration::from_secs(30)).await;
    second.send(&red(Some(issued)));
    tokentray_runtime::alerts::settle(Duration::from_secs(30)).await;
    assert!(rx.try_recv().is_err(), "sent twice");
    // A new token's red is news.
    second.send(&red(Some(issued + chrono::Duration::hours(1))));
    assert!(next(&mut rx).await.body.contains("\"event\":\"red\""));
    // So is each day's reminder, before the open and at it, about the same (or no) token.
    let reminder = |occasion: &str| AlertMessage {
        event: AlertEvent::MarketReminder,
        title: "Kite: log in before the market opens".into(),
        occasion: occasion.into(),
        ..red(None)
    };
    let hook = AlertConfig {
        name: "hook".into(),
        channel: Channel::Webhook { url: format!("{base}/hooks/tokentray").parse().unwrap() },
        events: vec![AlertEvent::MarketReminder],
        accounts: None,
    };
    let third = alerts(hook);
    for occasion in ["2026-11-23 before the open", "2026-11-23 at the open", "2026-11-25 before the open"] {
        third.send(&reminder(occasion));
        assert!(next(&mut rx).await.body.contains("\"event\":\"market_reminder\""), "{occasion}");
    }
    third.send(&reminder("2026-11-25 before the open"));
    tokentray_runtime::alerts::settle(Duration::from_secs(30)).await;
    assert!(rx.try_recv().is_err(), "each reminder once");
}

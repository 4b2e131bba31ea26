//! The local API end to end over loopback: every endpoint, the bearer check,
//! a foreign Host refused, no CORS, JSON errors, an SSE client that receives
//! a change and resumes after a disconnect without missing one.

use crate::common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokentray_runtime::login::LoginOptions;
use tokentray_runtime::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn setup(name: &str) -> (World, Engine, SocketAddr) {
    let w = world(name, None).await;
    let engine = w.engine();
    let options = LoginOptions {
        open_browser: false,
        show_url: Box::new(|u| {
            tokio::spawn(browse(u.authorize.clone()));
        }),
        ..LoginOptions::default()
    };
    engine.login("oauth", options).await.unwrap();
    let (addr, _task) = tokentray_runtime::api::serve(engine.clone(), 0).await.unwrap();
    (w, engine, addr)
}

fn get(addr: SocketAddr, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new().get(format!("http://{addr}{path}"))
}

async fn json(r: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    assert_eq!(r.headers()["content-type"], "application/json", "every answer is JSON");
    assert!(r.headers().get("access-control-allow-origin").is_none(), "no CORS");
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn token_status_has_the_dashboards_fields() {
    let (_w, _engine, addr) = setup("api-status").await;
    let (code, all) = json(get(addr, "/api/token/status")).await;
    assert_eq!(code, 200);
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (code, s) = json(get(addr, "/api/token/status?account=oauth")).await;
    assert_eq!(code, 200);
    assert_eq!(s["account"], "oauth");
    assert_eq!(s["valid"], true);
    let remaining = s["time_remaining_seconds"].as_i64().unwrap();
    assert!((1700..=1800).contains(&remaining), "{remaining}");
    assert_eq!(s["time_remaining_hours"], serde_json::json!(((remaining as f64 / 3600.0) * 100.0).round() / 100.0));
    assert!(s["expiry_time"].is_string());
    assert_eq!(s["needs_refresh"], false);
    assert_eq!(s["api_validated"], true);
    assert_eq!(
        (s["provider"].as_str(), s["state"].as_str(), s["level"].as_str()),
        (Some("schwab"), Some("valid"), Some("green"))
    );
    assert!(s["message"].as_str().unwrap().starts_with("Token valid"));
    let (_, kite) = json(get(addr, "/api/token/status?account=kite")).await;
    assert_eq!((kite["valid"].as_bool(), kite["needs_refresh"].as_bool()), (Some(false), Some(true)));
    assert!(kite["message"].as_str().unwrap().contains("tokentray login kite"));
    let (code, e) = json(get(addr, "/api/token/status?account=nope")).await;
    assert_eq!(code, 404);
    assert!(e["error"].as_str().unwrap().contains("nope"));
}

#[tokio::test]
async fn force_refresh_renews_and_asks_which_account() {
    let (w, engine, addr) = setup("api-refresh").await;
    let key = engine.api_key().await.unwrap();
    let post = |path: &str| reqwest::Client::new().post(format!("http://{addr}{path}")).bearer_auth(key.expose());
    let (code, s) = json(post("/api/token/force-refresh?account=oauth")).await;
    assert_eq!((code, s["valid"].as_bool()), (200, Some(true)));
    assert_eq!(w.sandbox.requests_to("/v1/oauth/token").len(), 2);
    let (code, e) = json(post("/api/token/force-refresh")).await;
    assert_eq!(code, 400);
    assert!(e["error"].as_str().unwrap().contains("?account="));
    let (code, e) = json(post("/api/token/force-refresh?account=kite")).await;
    assert_eq!(code, 409, "{e}");
    let (code, _) = json(get(addr, "/api/token/force-refresh?account=oauth")).await;
    assert_eq!(code, 405);
}

#[tokio::test]
async fn a_state_change_needs_the_key_and_comes_at_most_every_30_seconds() {
    let (w, engine, addr) = setup("api-refresh-abuse").await;
    let post = |path: &str| reqwest::Client::new().post(format!("http://{addr}{path}"));
    // Ten cross-site POSTs, as a web page would send them, and ten without the key.
    for _ in 0..10 {
        let (code, _) =
            json(post("/api/token/force-refresh?account=oauth").header("origin", "https://evil.example")).await;
        assert_eq!(code, 403);
        let (code, _) = json(post("/api/token/force-refresh?account=oauth")).await;
        assert_eq!(code, 401);
    }
    assert_eq!(w.sandbox.requests_to("/v1/oauth/token").len(), 1, "the login's exchange only: no refresh ran");
    let key = engine.api_key().await.unwrap();
    let (code, _) = json(post("/api/token/force-refresh?account=oauth").bearer_auth(key.expose())).await;
    assert_eq!(code, 200);
    let r = post("/api/token/force-refresh?account=oauth").bearer_auth(key.expose()).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert!(r.text().await.unwrap().contains("try again in"));
    assert_eq!(w.sandbox.requests_to("/v1/oauth/token").len(), 2, "one refresh in all");
}

#[tokio::test]
async fn requests_from_web_pages_are_refused_everywhere() {
    let (_w, engine, addr) = setup("api-web-pages").await;
    let key = engine.api_key().await.unwrap();
    for path in ["/api/token/status", "/v1/accounts", "/v1/accounts/oauth/token", "/v1/events", "/metrics"] {
        for (name, value) in
            [("origin", "https://evil.example"), ("origin", "http://localhost:3000"), ("sec-fetch-site", "cross-site")]
        {
            let (code, e) = json(get(addr, path).bearer_auth(key.expose()).header(name, value)).await;
            assert_eq!(code, 403, "{path} with {name}: {value}");
            assert!(e["error"].as_str().unwrap().contains("web pages"), "{e}");
        }
    }
    // A user typing the address in the browser (no site behind it) is no page's request.
    let (code, _) = json(get(addr, "/api/token/status").header("sec-fetch-site", "none")).await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn require_key_closes_every_read_but_metrics() {
    let (_w, engine, addr) = setup("api-require-key").await;
    let mut config = engine.config();
    config.api.require_key = true;
    engine.apply_config(config);
    let key = engine.api_key().await.unwrap();
    for path in ["/api/token/status", "/v1/accounts", "/v1/events"] {
        let (code, _) = json(get(addr, path)).await;
        assert_eq!(code, 401, "{path}");
    }
    let (code, _) = json(get(addr, "/v1/accounts").bearer_auth(key.expose())).await;
    assert_eq!(code, 200);
    assert_eq!(get(addr, "/metrics").send().await.unwrap().status(), 200, "Prometheus scrapes without a key");
}

#[tokio::test]
async fn the_token_needs_the_bearer_key() {
    let (_w, engine, addr) = setup("api-token").await;
    let r = get(addr, "/v1/accounts/oauth/token").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let (code, e) = json(get(addr, "/v1/accounts/oauth/token").bearer_auth("wrong")).await;
    assert_eq!(code, 401);
    assert!(e["error"].as_str().unwrap().contains("tokentray api-key"));
    let key = engine.api_key().await.unwrap();
    assert_eq!(engine.api_key().await.unwrap(), key, "made once, then kept");
    let r = get(addr, "/v1/accounts/oauth/token").bearer_auth(key.expose()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: serde_json::Value = r.json().await.unwrap();
    let tokens = engine.tokens("oauth").await.unwrap();
    assert_eq!(body["access_token"], tokens.access_token.expose());
    assert_eq!(body["authorization"], format!("Bearer {}", tokens.access_token.expose()));
    assert_eq!(body["header_name"], "Authorization");
    assert!(body.get("feed_token").is_some_and(serde_json::Value::is_null), "only Angel One has one: {body}");
    let (code, e) = json(get(addr, "/v1/accounts/kite/token").bearer_auth(key.expose())).await;
    assert_eq!(code, 409);
    assert!(e["error"].as_str().unwrap().contains("tokentray login kite"));
    let (code, _) = json(get(addr, "/v1/accounts/nope/token").bearer_auth(key.expose())).await;
    assert_eq!(code, 404);
    let (_, accounts) = json(get(addr, "/v1/accounts")).await;
    assert_eq!(accounts.as_array().unwrap().len(), 2);
    assert!(!accounts.to_string().contains(tokens.access_token.expose()), "no token in the list");
}

#[tokio::test]
async fn foreign_hosts_are_refused_and_bad_requests_get_4xx() {
    let (_w, _engine, addr) = setup("api-host").await;
    for path in ["/api/token/status", "/v1/accounts", "/metrics", "/v1/events"] {
        let (code, e) = json(get(addr, path).header("host", "evil.example")).await;
        assert_eq!(code, 403, "{path}");
        assert!(e["error"].as_str().unwrap().contains("loopback"));
    }
    let (code, _) = json(get(addr, "/v1/accounts").header("host", format!("localhost:{}", addr.port()))).await;
    assert_eq!(code, 200);
    let (code, _) = json(get(addr, "/nowhere")).await;
    assert_eq!(code, 404);
    let (code, _) = json(get(addr, "/v1/accounts/%FF/token")).await;
    assert_eq!(code, 400);
    let r = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("http://{addr}/v1/accounts"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none(), "no CORS preflight answer");
    // Garbage on the wire is answered and does not take the server down.
    let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"NONSENSE\r\n\r\n").await.unwrap();
    let mut answer = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), raw.read(&mut answer)).await.expect("an answer").unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    let (code, _) = json(get(addr, "/v1/accounts")).await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let (_w, engine, addr) = setup("api-metrics").await;
    engine.refresh("oauth").await.unwrap();
    let r = get(addr, "/metrics").send().await.unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    for family in [
        "tokentray_token_expiry_timestamp_seconds",
        "tokentray_action_due_seconds",
        "tokentray_token_valid",
        "tokentray_refresh_total",
        "tokentray_validation_total",
    ] {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family}: {text}");
    }
    assert!(
        text.contains("tokentray_refresh_total{account=\"oauth\",provider=\"schwab\",outcome=\"success\"} 1"),
        "{text}"
    );
    assert!(text.contains("tokentray_token_valid{account=\"kite\",provider=\"kite\"} 0"), "{text}");
    let due = text.lines().find(|l| l.starts_with("tokentray_action_due_seconds{account=\"oauth\"")).unwrap();
    let seconds: f64 = due.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(seconds > 6.0 * 86_400.0, "7 days to the Schwab login: {due}");
}

/// Reads SSE frames until `n` events (frames with an `id:`) arrived.
async fn read_events(r: &mut reqwest::Response, n: usize) -> Vec<(u64, String, serde_json::Value)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    while events.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(5), r.chunk())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                frame.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).map(|v| v.trim().to_owned())
            };
            if let (Some(id), Some(kind), Some(data)) = (field("id"), field("event"), field("data")) {
                events.push((id.parse().unwrap(), kind, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    events
}

#[tokio::test]
async fn the_event_stream_delivers_changes_and_resumes_without_a_gap() {
    let (_w, engine, addr) = setup("api-events").await;
    let mut stream = get(addr, "/v1/events").send().await.unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    engine.refresh("oauth").await.unwrap();
    let first = read_events(&mut stream, 1).await;
    let (id, kind, data) = &first[0];
    assert_eq!((kind.as_str(), data["account"].as_str()), ("token_changed", Some("oauth")));
    assert_eq!(data["state"], "valid");
    let token = engine.tokens("oauth").await.unwrap();
    assert!(!data.to_string().contains(token.access_token.expose()), "no token in events");
    drop(stream);

    // Changes while nobody listens...
    engine.refresh("oauth").await.unwrap();
    engine.logout("kite").await.unwrap();
    // ...arrive first after reconnecting with Last-Event-ID.
    let mut resumed = get(addr, "/v1/events").header("last-event-id", id.to_string()).send().await.unwrap();
    let missed = read_events(&mut resumed, 2).await;
    let ids: Vec<u64> = missed.iter().map(|e| e.0).collect();
    assert!(ids.windows(2).all(|w| w[1] > w[0]) && ids[0] > *id, "{ids:?}");
    let all_since = engine.events_since(*id).unwrap();
    let kinds: Vec<_> = missed.iter().map(|e| (e.2["account"].as_str().unwrap().to_owned(), e.1.clone())).collect();
    assert_eq!(ids[0], all_since[0].id, "the first missed event comes first");
    assert!(kinds.contains(&("oauth".into(), "token_changed".into())), "{kinds:?}");
    let rest = read_events(&mut resumed, all_since.len() - 2).await;
    let mut every: Vec<u64> = ids.clone();
    every.extend(rest.iter().map(|e| e.0));
    assert_eq!(every, all_since.iter().map(|e| e.id).collect::<Vec<_>>(), "every missed event, in order, once");
    assert!(rest.iter().chain(missed.iter()).any(|e| e.1 == "logged_out"));
}

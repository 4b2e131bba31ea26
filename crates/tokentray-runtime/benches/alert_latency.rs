//! From an event to each alert channel's request received, on loopback:
//! `Alerts::send` (a task per alert, the "sent once" record read and
//! written (fsync'd), the secret read from the store, the request built and
//! sent) until a stand-in server for the service has the request, p50 and p99 over 201 events per channel; next to a bare
//! `reqwest` POST to the same server in the same run (the baseline). For a
//! command alert, until the program has read the event and exited, next to
//! spawning `/bin/true` the same way.
//!
//! `cargo bench -p tokentray-runtime --bench alert_latency`

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

use axum::routing::post;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokentray_adapters::config::alerts::{AlertConfig, AlertEvent, Channel};
use tokentray_adapters::store::{PlaintextStore, SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_core::Level;
use tokentray_runtime::alerts::message::AlertMessage;
use tokentray_runtime::alerts::Alerts;
use tokio::sync::mpsc;

const EVENTS: usize = 201;

fn pct(samples: &[f64], q: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * q).round() as usize]
}

fn message() -> AlertMessage {
    AlertMessage {
        account: "kite".into(),
        label: "Kite".into(),
        provider: "kite".into(),
        event: AlertEvent::Red,
        level: Level::Red,
        act_by: Some(chrono::Utc::now() + chrono::Duration::minutes(45)),
        title: "Kite: log in within 45m".into(),
        message: "Less than the red threshold is left.".into(),
        at: chrono::Utc::now(),
        test: false,
        // A new token each time: an event about one token is sent once.
        token_issued: Some(chrono::Utc::now()),
        occasion: String::new(),
    }
}

fn alert(name: &str, channel: Channel) -> AlertConfig {
    AlertConfig { name: name.into(), channel, events: vec![AlertEvent::Red], accounts: None }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let arrived = move || {
        let tx = tx.clone();
        post(move || async move {
            let _ = tx.send(());
            r#"{"ok":true}"#
        })
    };
    let app = axum::Router::new()
        .route("/hook", arrived())
        .route("/ntfy/", arrived())
        .route("/bot{token}/sendMessage", arrived())
        .route("/bare", arrived());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = std::env::temp_dir().join(format!("tokentray-bench-alerts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(PlaintextStore::new(dir.join("secrets.json")));
    store.set("hook", SecretItem::AlertSecret, &Secret::new("signing-key")).unwrap();
    store.set("bot", SecretItem::AlertSecret, &Secret::new("1:TOKEN")).unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
    let url = |p: &str| url::Url::parse(&format!("{base}{p}")).unwrap();
    let channels = [
        ("webhook", alert("hook", Channel::Webhook { url: url("/hook") })),
        ("ntfy", alert("phone", Channel::Ntfy { url: url("/ntfy/topic") })),
        ("telegram", alert("bot", Channel::Telegram { chat_id: "1".into(), api_base: url("") })),
    ];
    println!("alert latency over loopback, {EVENTS} events each (ms):");
    for round in 1..=3 {
        let mut bare = Vec::new();
        for _ in 0..EVENTS {
            let started = Instant::now();
            http.post(url("/bare")).body("{}").send().await.unwrap();
            rx.recv().await.unwrap();
            bare.push(started.elapsed().as_secs_f64() * 1e3);
        }
        println!("round {round}: bare POST  p50 {:6.2}  p99 {:6.2}  (baseline)", pct(&bare, 0.5), pct(&bare, 0.99));
        for (kind, config) in &channels {
            let alerts = Arc::new(Alerts::new(
                vec![config.clone()],
                store.clone(),
                http.clone(),
                &dir,
                std::sync::Arc::new(tokentray_runtime::SystemClock),
            ));
            let mut samples = Vec::new();
            for _ in 0..EVENTS {
                let started = Instant::now();
                alerts.send(&message());
                rx.recv().await.unwrap();
                samples.push(started.elapsed().as_secs_f64() * 1e3);
            }
            let p50 = pct(&samples, 0.5);
            println!(
                "round {round}: {kind:<9}  p50 {p50:6.2}  p99 {:6.2}  ({:.2}x the bare POST)",
                pct(&samples, 0.99),
                p50 / pct(&bare, 0.5)
            );
        }
        // A command: until it has read the event and exited.
        let mut spawn = Vec::new();
        for _ in 0..EVENTS {
            let started = Instant::now();
            tokio::process::Command::new("/bin/true").status().await.unwrap();
            spawn.push(started.elapsed().as_secs_f64() * 1e3);
        }
        let cat = alert(
            "cat",
            Channel::Command { program: "/bin/cat".into(), args: vec![], timeout: Duration::from_secs(30) },
        );
        let alerts = Alerts::new(
            vec![cat],
            store.clone(),
            http.clone(),
            &dir,
            std::sync::Arc::new(tokentray_runtime::SystemClock),
        );
        let mut samples = Vec::new();
        for _ in 0..EVENTS {
            let started = Instant::now();
            let outcomes = alerts.test(None, &message()).await.unwrap();
            assert!(outcomes[0].delivered, "{outcomes:?}");
            samples.push(started.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "round {round}: command    p50 {:6.2}  p99 {:6.2}  ({:.2}x spawning /bin/true: p50 {:.2})",
            pct(&samples, 0.5),
            pct(&samples, 0.99),
            pct(&samples, 0.5) / pct(&spawn, 0.5),
            pct(&spawn, 0.5)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

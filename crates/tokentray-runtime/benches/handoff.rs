//! Hand-off figures for the local API and the sinks:
//!
//! 1. From a refresh being asked for to the new token written to 10 sinks
//!    (env, JSON, TOML, raw; fsync'd and renamed) and the SSE event received by
//!    a client: p50 and p99 over 201 refreshes, next to the same with no sink
//!    (the baseline, same run).
//! 2. Under `wrk` (another process, keep-alive connections), the token
//!    endpoint's latency percentiles and the status endpoint's throughput,
//!    with `/v1/accounts` as the baseline. The server runs on one thread, as
//!    in the daemon.
//!
//! `cargo bench -p tokentray-runtime --bench handoff` (needs `wrk`).

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;
use tokentray_adapters::config::Config;
use tokentray_adapters::store::{PlaintextStore, SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_runtime::login::LoginOptions;
use tokentray_runtime::{Engine, EngineOptions, LogNotifier, SystemClock};
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};

const REFRESHES: usize = 201;

fn sinks(dir: &Path, n: usize) -> String {
    let formats = ["env", "env", "env", "env", "json", "json", "json", "toml", "toml", "raw"];
    (0..n)
        .map(|i| {
            let format = formats[i % formats.len()];
            let path = dir.join(format!("sink{i}.{format}"));
            format!("\n[[account.sink]]\nformat = \"{format}\"\npath = \"{}\"\n", path.display())
        })
        .collect()
}

async fn engine(dir: &Path, sandbox: &Sandbox, redirect: &str, n_sinks: usize) -> Engine {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let text = format!(
        "storage = \"plaintext\"\n[[account]]\nid = \"bench\"\nprovider = \"schwab\"\napi_key = \"bench\"\nredirect_uri = \"{redirect}\"\napi_base = \"{}\"\n{}",
        sandbox.url(),
        sinks(dir, n_sinks)
    );
    let config = Config::parse(&text, &dir.join("config.toml")).unwrap();
    let store = Arc::new(PlaintextStore::new(dir.join("secrets.json")));
    store.set("bench", SecretItem::ApiSecret, &Secret::new("bench-secret")).unwrap();
    let engine = Engine::new(
        config,
        EngineOptions {
            data_dir: dir.to_owned(),
            store,
            clock: Arc::new(SystemClock),
            notifier: Arc::new(LogNotifier),
        },
    )
    .unwrap();
    let options = LoginOptions::following_redirects();
    engine.login("bench", options).await.unwrap();
    engine
}

/// Refresh → sinks written → SSE event read by a client, in milliseconds.
async fn handoff(engine: &Engine) -> Vec<f64> {
    let (addr, _task) = tokentray_runtime::api::serve(engine.clone(), 0).await.unwrap();
    let mut stream = reqwest::get(format!("http://{addr}/v1/events")).await.unwrap();
    let mut samples = Vec::with_capacity(REFRESHES);
    let mut buffer = String::new();
    for _ in 0..REFRESHES {
        let started = Instant::now();
        engine.refresh("bench").await.unwrap();
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if frame.contains("event: token_changed") {
                    break;
                }
                continue;
            }
            let chunk = stream.chunk().await.unwrap().unwrap();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
        samples.push(started.elapsed().as_secs_f64() * 1e3);
    }
    samples.sort_by(f64::total_cmp);
    samples
}

fn pct(s: &[f64], q: f64) -> f64 {
    s[((s.len() - 1) as f64 * q).round() as usize]
}

/// `connections` keep-alive connections for 10 s. Many connections measure
/// throughput at saturation (latency is then queueing); two measure latency.
fn wrk(url: &str, header: Option<&str>, connections: u32) -> String {
    let mut c = Command::new("wrk");
    let threads = connections.min(2);
    c.args([format!("-t{threads}"), format!("-c{connections}"), "-d10s".into(), "--latency".into()]);
    if let Some(h) = header {
        c.args(["-H", h]);
    }
    let out = c.arg(url).output().expect("wrk is installed (apt-get install wrk)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wrk_line(report: &str, prefix: &str) -> String {
    report.lines().find(|l| l.trim_start().starts_with(prefix)).map(|l| l.trim().to_owned()).unwrap_or_default()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let root = tokentray_testkit::scratch("bench-handoff");
    runtime.block_on(async {
        let port = tokentray_testkit::free_port();
        let redirect = format!("http://127.0.0.1:{port}/cb");
        let sandbox = Sandbox::start(SandboxConfig {
            apps: vec![App::new(ProviderKind::Schwab, "bench", "bench-secret", &redirect, "B1")],
            rotate_refresh_tokens: true,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();

        let none = handoff(&engine(&root.join("none"), &sandbox, &redirect, 0).await).await;
        let ten = handoff(&engine(&root.join("ten"), &sandbox, &redirect, 10).await).await;
        println!("new token to 10 sinks written and the SSE event received ({REFRESHES} refreshes over loopback):");
        println!("  10 sinks: p50 {:6.2} ms  p99 {:6.2} ms", pct(&ten, 0.5), pct(&ten, 0.99));
        println!(
            "  no sink:  p50 {:6.2} ms  p99 {:6.2} ms  (baseline; 10 sinks cost {:.2}x)",
            pct(&none, 0.5),
            pct(&none, 0.99),
            pct(&ten, 0.5) / pct(&none, 0.5)
        );

        let engine = engine(&root.join("load"), &sandbox, &redirect, 0).await;
        let key = engine.api_key().await.unwrap();
        let (addr, _task) = tokentray_runtime::api::serve(engine.clone(), 0).await.unwrap();
        let bearer = format!("Authorization: Bearer {}", key.expose());
        // wrk runs in its own process while this thread serves.
        let reports = tokio::task::spawn_blocking(move || {
            let token = wrk(&format!("http://{addr}/v1/accounts/bench/token"), Some(&bearer), 2);
            let token_busy = wrk(&format!("http://{addr}/v1/accounts/bench/token"), Some(&bearer), 16);
            let status = wrk(&format!("http://{addr}/api/token/status?account=bench"), None, 16);
            let accounts = wrk(&format!("http://{addr}/v1/accounts"), None, 16);
            (token, token_busy, status, accounts)
        });
        let (token, token_busy, status, accounts) = reports.await.unwrap();
        println!("under wrk (10 s each; the server on one thread, as in the daemon):");
        println!(
            "  token endpoint, 2 connections:  {} | {} | {}",
            wrk_line(&token, "50%"),
            wrk_line(&token, "99%"),
            wrk_line(&token, "Requests/sec")
        );
        println!(
            "  token endpoint, 16 connections: {} | {} | {}",
            wrk_line(&token_busy, "50%"),
            wrk_line(&token_busy, "99%"),
            wrk_line(&token_busy, "Requests/sec")
        );
        println!(
            "  status endpoint, 16 connections: {} | {} | {}",
            wrk_line(&status, "50%"),
            wrk_line(&status, "99%"),
            wrk_line(&status, "Requests/sec")
        );
        println!(
            "  /v1/accounts, 16 connections (baseline): {} | {}",
            wrk_line(&accounts, "99%"),
            wrk_line(&accounts, "Requests/sec")
        );
    });
    let _ = std::fs::remove_dir_all(&root);
}

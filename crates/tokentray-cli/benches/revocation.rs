//! From a revocation at the broker to everyone knowing, when a script reports
//! it: the report (`POST /v1/accounts/{id}/check`) answered, the `token_invalid`
//! event on the SSE stream, and `tokentray token` exiting 4. The engine runs in
//! this process as the daemon runs it (control socket and API on loopback);
//! `tokentray token` is the real binary, handing over to it. Baseline in the
//! same run: `tokentray token` printing a valid token (exit 0), which is the
//! process start and the control-socket round trip alone.
//!
//! `cargo bench -p tokentray-cli --bench revocation` (about 10 s).

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokentray_adapters::config::Config;
use tokentray_adapters::store::{PlaintextStore, SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_runtime::control::{self, Host};
use tokentray_runtime::login::LoginOptions;
use tokentray_runtime::{Engine, EngineOptions, LogNotifier, SystemClock};
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};
use tokentray_testkit::{free_port, scratch};

const ROUNDS: usize = 51;

fn percentile(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3
}

/// Runs `tokentray token kite` against the engine; returns its exit code and time.
fn token(dir: &std::path::Path) -> (Option<i32>, Duration) {
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_tokentray"))
        .args(["token", "kite"])
        .env("TOKENTRAY_CONFIG", dir.join("config.toml"))
        .env("TOKENTRAY_DATA_DIR", dir.join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    (status.code(), started.elapsed())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = scratch("bench-revocation");
    let (callback, api_port) = (free_port(), free_port());
    let redirect = format!("http://127.0.0.1:{callback}/cb");
    let sandbox = Sandbox::start(SandboxConfig {
        apps: vec![App::new(ProviderKind::Kite, "kitekey", "kitesecret", &redirect, "AB1234")],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let base = sandbox.url();
    let text = format!(
        "storage = \"plaintext\"\n[api]\nport = {api_port}\n[[account]]\nid = \"kite\"\nprovider = \"kite\"\n\
         api_key = \"kitekey\"\nredirect_uri = \"{redirect}\"\napi_base = \"{base}\"\nlogin_base = \"{base}\"\n"
    );
    std::fs::write(dir.join("config.toml"), &text).unwrap();
    let config = Config::load(&dir.join("config.toml")).unwrap();
    let store = PlaintextStore::new(dir.join("data").join("secrets.json"));
    store.set("kite", SecretItem::ApiSecret, &Secret::new("kitesecret")).unwrap();
    let engine = Engine::new(
        config,
        EngineOptions {
            data_dir: dir.join("data"),
            store: Arc::new(store),
            clock: Arc::new(SystemClock),
            notifier: Arc::new(LogNotifier),
        },
    )
    .unwrap();
    let _control = control::serve(engine.clone(), Host { show: None, opens_browser: false, demo: false, stop: None })
        .await
        .unwrap();
    let (addr, _api) = tokentray_runtime::api::serve(engine.clone(), api_port).await.unwrap();
    let key = engine.api_key().await.unwrap();

    // The SSE stream, read as a script reads it; each `token_invalid` is timed on arrival.
    let (invalid_tx, mut invalid) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let mut events = reqwest::get(format!("http://{addr}/v1/events")).await.unwrap();
    tokio::spawn(async move {
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = events.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if frame.contains("event: token_invalid") || frame.contains("event:token_invalid") {
                    let _ = invalid_tx.send(Instant::now());
                }
            }
        }
    });

    let http = reqwest::Client::new();
    let (mut answered, mut evented, mut exited, mut baseline) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        engine.login("kite", LoginOptions::following_redirects()).await.unwrap();
        let dir_b = dir.clone();
        let (code, took) = tokio::task::spawn_blocking(move || token(&dir_b)).await.unwrap();
        assert_eq!(code, Some(0));
        baseline.push(took);

        // A login elsewhere ends the session; a bot's next call gets 403 and reports it.
        sandbox.expire_access_tokens();
        let reported = Instant::now();
        let answer =
            http.post(format!("http://{addr}/v1/accounts/kite/check")).bearer_auth(key.expose()).send().await.unwrap();
        assert_eq!(answer.status(), 409);
        answered.push(reported.elapsed());
        let at = tokio::time::timeout(Duration::from_secs(5), invalid.recv()).await.unwrap().unwrap();
        evented.push(at - reported);
        let dir_b = dir.clone();
        let (code, _) = tokio::task::spawn_blocking(move || token(&dir_b)).await.unwrap();
        assert_eq!(code, Some(4));
        exited.push(reported.elapsed());
    }
    engine.shutdown();
    let _ = std::fs::remove_dir_all(&dir);

    println!("revocation reported by a script to everyone knowing, {ROUNDS} rounds (ms, p50 / p99):");
    for (label, samples) in [
        ("report answered (409, login needed)", &mut answered),
        ("token_invalid on the SSE stream", &mut evented),
        ("`tokentray token` exited 4", &mut exited),
        ("baseline: `tokentray token` exit 0", &mut baseline),
    ] {
        println!("  {label:<38} {:7.2} / {:7.2}", percentile(samples, 0.5), percentile(samples, 0.99));
    }
    let exit4 = percentile(&mut exited, 0.5);
    println!("  exit-4 path / baseline process, p50: {:.2}x", exit4 / percentile(&mut baseline, 0.5));
}

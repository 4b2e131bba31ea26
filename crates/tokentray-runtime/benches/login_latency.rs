//! From the login callback's arrival to the token stored, against the sandbox:
//! the code exchange over loopback HTTP plus the secret store write. Measured
//! with the real keyring (Secret Service over D-Bus) and, as the baseline in
//! the same run, the plaintext file store.
//!
//! Run inside a desktop session: `scripts/bench.sh` (or
//! `scripts/with-desktop-session.sh cargo bench -p tokentray-runtime --bench login_latency`).

use std::sync::Arc;
use std::time::Duration;
use tokentray_adapters::config::Config;
use tokentray_adapters::store::{KeyringStore, PlaintextStore, SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_runtime::login::LoginOptions;
use tokentray_runtime::{Engine, EngineOptions, LogNotifier, SystemClock};
use tokentray_sandbox::{App, Flavor, Sandbox, SandboxConfig};

const LOGINS: usize = 101;

async fn measure(store: Arc<dyn SecretStore>, label: &str) -> Vec<Duration> {
    let dir = tokentray_testkit::scratch(&format!("bench-login-{label}"));
    let port = tokentray_testkit::free_port();
    let redirect = format!("http://127.0.0.1:{port}/cb");
    let sandbox = Sandbox::start(SandboxConfig {
        apps: vec![App::new(Flavor::OAuth2, "bench", "bench-secret", &redirect, "B1")],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let base = sandbox.url();
    let text = format!(
        "[[account]]\nid = \"bench\"\nprovider = \"schwab\"\napi_key = \"bench\"\nredirect_uri = \"{redirect}\"\napi_base = \"{base}\"\n"
    );
    let config = Config::parse(&text, &dir.join("config.toml")).unwrap();
    store.set("bench", SecretItem::ApiSecret, &Secret::new("bench-secret")).unwrap();
    let engine = Engine::new(
        config,
        EngineOptions {
            data_dir: dir.clone(),
            store: store.clone(),
            clock: Arc::new(SystemClock),
            notifier: Arc::new(LogNotifier),
        },
    )
    .unwrap();
    let mut samples = Vec::with_capacity(LOGINS);
    for _ in 0..LOGINS {
        let options = LoginOptions::following_redirects();
        samples.push(engine.login("bench", options).await.unwrap().callback_to_stored);
    }
    store.delete("bench", SecretItem::Tokens).unwrap();
    store.delete("bench", SecretItem::ApiSecret).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    samples.sort();
    samples
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tokentray_testkit::scratch("bench-plain");
    let plain = measure(Arc::new(PlaintextStore::new(dir.join("secrets.json"))), "plain").await;
    let keyring =
        measure(Arc::new(KeyringStore::new(&format!("tokentray-bench-{}", std::process::id()))), "keyring").await;
    let _ = std::fs::remove_dir_all(&dir);
    let p = |s: &[Duration], q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    println!("callback to token stored, {LOGINS} logins each (exchange over loopback HTTP + store write):");
    println!("  plaintext file store: p50 {:6.2} ms  p99 {:6.2} ms", ms(p(&plain, 0.5)), ms(p(&plain, 0.99)));
    println!("  OS keyring (D-Bus):   p50 {:6.2} ms  p99 {:6.2} ms", ms(p(&keyring, 0.5)), ms(p(&keyring, 0.99)));
    println!("  keyring / plaintext p50 ratio: {:.2}x", ms(p(&keyring, 0.5)) / ms(p(&plain, 0.5)));
}

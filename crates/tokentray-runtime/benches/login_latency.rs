//! From the login callback's arrival to the token stored, against the sandbox,
//! for every provider: the code exchange over loopback HTTP (Angel One's
//! profile check; it has no exchange) plus the secret store write. Measured
//! with the real keyring (Secret Service over D-Bus); the baseline in the same
//! run is Schwab's login with the plaintext file store.
//!
//! Run inside a desktop session: `scripts/bench.sh` (or
//! `scripts/with-desktop-session.sh cargo bench -p tokentray-runtime --bench login_latency`).

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::Duration;
use tokentray_adapters::config::Config;
use tokentray_adapters::store::{KeyringStore, PlaintextStore, SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_runtime::login::LoginOptions;
use tokentray_runtime::{Engine, EngineOptions, LogNotifier, SystemClock};
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};

const LOGINS: usize = 101;

/// Each provider's sandbox app and the config lines beyond id, key and redirect.
const PROVIDERS: [(&str, ProviderKind, &str); 6] = [
    ("kite", ProviderKind::Kite, "login_base = \"{base}\"\n"),
    ("upstox", ProviderKind::Upstox, ""),
    ("schwab", ProviderKind::Schwab, ""),
    ("fyers", ProviderKind::Fyers, ""),
    ("dhan", ProviderKind::Dhan, "login_base = \"{base}\"\nuser_id = \"B1\"\n"),
    ("angelone", ProviderKind::AngelOne, "login_base = \"{base}\"\nuser_id = \"B1\"\n"),
];

async fn measure(
    store: Arc<dyn SecretStore>,
    label: &str,
    (provider, kind, extra): (&str, ProviderKind, &str),
) -> Vec<Duration> {
    let dir = tokentray_testkit::scratch(&format!("bench-login-{label}-{provider}"));
    let port = tokentray_testkit::free_port();
    let redirect = format!("http://127.0.0.1:{port}/cb");
    let sandbox = Sandbox::start(SandboxConfig {
        apps: vec![App::new(kind, "bench", "bench-secret", &redirect, "B1")],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let base = sandbox.url();
    let text = format!(
        "[[account]]\nid = \"bench\"\nprovider = \"{provider}\"\napi_key = \"bench\"\nredirect_uri = \"{redirect}\"\n\
         api_base = \"{base}\"\n{}",
        extra.replace("{base}", &base)
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
    engine.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    samples.sort();
    samples
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let p = |s: &[Duration], q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    let dir = tokentray_testkit::scratch("bench-plain");
    let plain = measure(Arc::new(PlaintextStore::new(dir.join("secrets.json"))), "plain", PROVIDERS[2]).await;
    let _ = std::fs::remove_dir_all(&dir);
    let base = ms(p(&plain, 0.5));
    println!(
        "callback to token stored, {LOGINS} logins each (the provider's call over loopback HTTP + the store write):"
    );
    println!("  schwab, plaintext file store (baseline): p50 {base:6.2} ms  p99 {:6.2} ms", ms(p(&plain, 0.99)));
    let keyring: Arc<dyn SecretStore> = Arc::new(KeyringStore::new(&format!("tokentray-bench-{}", std::process::id())));
    for provider in PROVIDERS {
        let s = measure(keyring.clone(), "keyring", provider).await;
        let (p50, p99) = (ms(p(&s, 0.5)), ms(p(&s, 0.99)));
        println!(
            "  {:<9} OS keyring (D-Bus):         p50 {p50:6.2} ms  p99 {p99:6.2} ms  ({:.2}x the baseline's p50)",
            provider.0,
            p50 / base
        );
    }
}

//! Every provider's login and renewal against its sandbox, through the
//! engine. A login is timed from the callback's arrival (the redirect, the
//! code typed, the gateway's word) to the token stored: the provider's calls
//! over loopback HTTP plus the secret store write. A renewal is timed as
//! `Engine::refresh` returns: the renewal call plus the store write. Measured
//! with the real keyring (Secret Service over D-Bus); the baselines in the
//! same run are Schwab's login and renewal with the plaintext file store.
//!
//! Run inside a desktop session: `scripts/bench.sh` (or
//! `scripts/with-desktop-session.sh cargo bench -p tokentray-runtime --bench login_latency`).

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokentray_adapters::config::Config;
use tokentray_adapters::store::{KeyringStore, PlaintextStore, SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_core::provider::{Description, Renewal, PROVIDERS};
use tokentray_core::ProviderKind;
use tokentray_runtime::login::{LoginOptions, Pasted};
use tokentray_runtime::{Engine, EngineOptions, LogNotifier, SystemClock};
use tokentray_sandbox::{App, Sandbox, SandboxConfig};

const RUNS: usize = 101;

struct Figures {
    login: Vec<Duration>,
    renewal: Vec<Duration>,
}

/// One login as its broker has it: a pasted token for Upstox's analytics
/// account, else the browser following the redirects (to the callback, or
/// through the IBKR gateway's page).
async fn log_in(engine: &Engine, sandbox: &Sandbox, d: &Description) -> Duration {
    if d.kind != ProviderKind::UpstoxAnalytics {
        return engine.login("bench", LoginOptions::following_redirects()).await.unwrap().callback_to_stored;
    }
    let (lines, pasted) = tokio::sync::mpsc::channel(1);
    lines.send(Pasted { line: sandbox.make_upstox_analytics_token("bench"), reply: None }).await.unwrap();
    let options = LoginOptions { open_browser: false, pasted: Some(pasted), ..Default::default() };
    engine.login("bench", options).await.unwrap().callback_to_stored
}

async fn measure(store: Arc<dyn SecretStore>, label: &str, d: &Description) -> Figures {
    let dir = tokentray_testkit::scratch(&format!("bench-login-{label}-{}", d.id));
    let redirect = format!("http://127.0.0.1:{}/cb", tokentray_testkit::free_port());
    let app = App {
        pin: "4321".into(),
        kite_refresh_token: true,
        ..App::new(d.kind, "bench", "bench-secret", &redirect, "B1")
    };
    let sandbox = Sandbox::start(SandboxConfig { apps: vec![app.clone()], ..SandboxConfig::default() }).await.unwrap();
    let text = sandbox.account_toml("bench", &app);
    let config = Config::parse(&text, &dir.join("config.toml")).unwrap();
    store.set("bench", SecretItem::ApiSecret, &Secret::new("bench-secret")).unwrap();
    store.set("bench", SecretItem::Pin, &Secret::new("4321")).unwrap();
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
    let mut login = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        login.push(log_in(&engine, &sandbox, d).await);
    }
    let mut renewal = Vec::new();
    if d.renewal != Renewal::LoginOnly {
        for _ in 0..RUNS {
            let started = Instant::now();
            engine.refresh("bench").await.unwrap();
            renewal.push(started.elapsed());
        }
    }
    for item in [SecretItem::Tokens, SecretItem::ApiSecret, SecretItem::Pin] {
        store.delete("bench", item).unwrap();
    }
    engine.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    login.sort();
    renewal.sort();
    Figures { login, renewal }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn p(s: &[Duration], q: f64) -> Duration {
    s[((s.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tokentray_testkit::scratch("bench-plain");
    let schwab = ProviderKind::Schwab.describe();
    let plain = measure(Arc::new(PlaintextStore::new(dir.join("secrets.json"))), "plain", schwab).await;
    let _ = std::fs::remove_dir_all(&dir);
    let (login_base, renewal_base) = (ms(p(&plain.login, 0.5)), ms(p(&plain.renewal, 0.5)));
    println!("{RUNS} logins and {RUNS} renewals each; login = callback to token stored, renewal = refresh returned:");
    println!(
        "  {:<17} plaintext store (baseline): login p50 {login_base:6.2} p99 {:6.2} ms | renewal p50 {renewal_base:6.2} p99 {:6.2} ms",
        "schwab",
        ms(p(&plain.login, 0.99)),
        ms(p(&plain.renewal, 0.99))
    );
    let keyring: Arc<dyn SecretStore> = Arc::new(KeyringStore::new(&format!("tokentray-bench-{}", std::process::id())));
    for d in PROVIDERS {
        let f = measure(keyring.clone(), "keyring", d).await;
        let (l50, l99) = (ms(p(&f.login, 0.5)), ms(p(&f.login, 0.99)));
        let renewal = match f.renewal.is_empty() {
            true => "renewal: login only".to_owned(),
            false => {
                let (r50, r99) = (ms(p(&f.renewal, 0.5)), ms(p(&f.renewal, 0.99)));
                format!("renewal p50 {r50:6.2} p99 {r99:6.2} ms ({:.2}x)", r50 / renewal_base)
            }
        };
        println!(
            "  {:<17} OS keyring (D-Bus):         login p50 {l50:6.2} p99 {l99:6.2} ms ({:.2}x) | {renewal}",
            d.id,
            l50 / login_base
        );
    }
}

//! kill -9 aimed at a refresh, with a provider that rotates refresh tokens
//! (the sandbox's Schwab-style OAuth2: each refresh kills the refresh token it
//! used). 30 `tokentray refresh` processes are killed at 0, 1, ..., 29 ms after
//! the provider's answer leaves; after each kill a fresh `tokentray refresh`
//! (which replays the grant journal first) shows whether the rotated refresh
//! token survived: exit 0 kept, exit 4 lost. Then the window itself, in
//! process: the time to make a grant durable in the journal, next to the
//! secret-store write that was the whole window before the journal.
//!
//! Inside a desktop session, so the store is the real keyring:
//! `scripts/with-desktop-session.sh cargo bench -p tokentray-cli --bench kill_window` (about 30 s).

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokentray_adapters::config::Config;
use tokentray_adapters::store::journal::{GrantJournal, JournalEntry};
use tokentray_adapters::store::{KeyringStore, SecretItem, SecretStore, TokenSet, SERVICE};
use tokentray_adapters::Secret;
use tokentray_core::{Instant as At, Refreshability, TokenMeta};
use tokentray_runtime::login::LoginOptions;
use tokentray_runtime::{Engine, EngineOptions, LogNotifier, SystemClock};
use tokentray_sandbox::{App, Endpoint, Fault, ProviderKind, Sandbox, SandboxConfig};

const KILLS: u64 = 30;
/// How long the sandbox holds the refresh answer: the kill is aimed past it.
const HOLD: Duration = Duration::from_millis(300);
const ACCOUNT: &str = "killbench";

fn cli(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokentray"));
    c.args(args)
        .env("TOKENTRAY_CONFIG", dir.join("config.toml"))
        .env("TOKENTRAY_DATA_DIR", dir.join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

async fn log_in(config: &Config, dir: &Path) {
    let engine = Engine::new(
        config.clone(),
        EngineOptions {
            data_dir: dir.join("data"),
            store: Arc::new(KeyringStore::new(SERVICE)),
            clock: Arc::new(SystemClock),
            notifier: Arc::new(LogNotifier),
        },
    )
    .unwrap();
    engine.login(ACCOUNT, LoginOptions::following_redirects()).await.unwrap();
}

fn percentile(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tokentray_testkit::scratch("bench-kill");
    let port = tokentray_testkit::free_port();
    let redirect = format!("http://127.0.0.1:{port}/cb");
    let sandbox = Sandbox::start(SandboxConfig {
        apps: vec![App::new(ProviderKind::Schwab, "killid", "killsecret", &redirect, "K1")],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let text = format!(
        "[api]\nenabled = false\n[[account]]\nid = \"{ACCOUNT}\"\nprovider = \"schwab\"\napi_key = \"killid\"\n\
         redirect_uri = \"{redirect}\"\napi_base = \"{}\"\n",
        sandbox.url()
    );
    std::fs::write(dir.join("config.toml"), &text).unwrap();
    let config = Config::load(&dir.join("config.toml")).unwrap();
    let keyring = KeyringStore::new(SERVICE);
    keyring.set(ACCOUNT, SecretItem::ApiSecret, &Secret::new("killsecret")).expect("a keyring in this session");
    log_in(&config, &dir).await;

    let mut lost = 0;
    for offset in 0..KILLS {
        sandbox.inject(Endpoint::OAuth2Token, Fault::delay(HOLD), Some(1));
        let before = sandbox.requests_to("/v1/oauth/token").len();
        let mut refresh = cli(&dir, &["refresh", ACCOUNT]).spawn().unwrap();
        let arrived = loop {
            if sandbox.requests_to("/v1/oauth/token").len() > before {
                break Instant::now();
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        tokio::time::sleep_until((arrived + HOLD + Duration::from_millis(offset)).into()).await;
        // SIGKILL on Unix, TerminateProcess on Windows: no chance to clean up.
        let _ = refresh.kill();
        let _ = refresh.wait();
        let d = dir.clone();
        let after =
            tokio::task::spawn_blocking(move || cli(&d, &["refresh", ACCOUNT]).status().unwrap()).await.unwrap();
        if after.code() != Some(0) {
            lost += 1;
            log_in(&config, &dir).await;
        }
    }

    // The window, in process: journal record (fsync'd) vs the keyring write.
    let key = keyring.get("tokentray", SecretItem::JournalKey).unwrap().expect("the CLI made the journal key");
    let journal = GrantJournal::open(dir.join("data").join("journal"), &key).unwrap();
    let now: At = chrono::Utc::now();
    let tokens = TokenSet {
        access_token: Secret::new("a".repeat(1200)),
        refresh_token: Some(Secret::new("r".repeat(90))),
        feed_token: None,
        token_secret: None,
    };
    let entry = JournalEntry {
        tokens: tokens.clone(),
        meta: TokenMeta { issued_at: now, expires_at: now, login_at: now, refresh: Refreshability::Unbounded },
        user_id: None,
        user_name: None,
        replaces: None,
    };
    let (mut journaled, mut stored) = (Vec::new(), Vec::new());
    for _ in 0..101 {
        let t = Instant::now();
        journal.record("window", &entry).unwrap();
        journaled.push(t.elapsed());
        let t = Instant::now();
        keyring.set_tokens("window", &tokens).unwrap();
        stored.push(t.elapsed());
    }
    journal.clear("window").unwrap();
    keyring.delete("window", SecretItem::Tokens).unwrap();
    keyring.delete(ACCOUNT, SecretItem::Tokens).unwrap();
    keyring.delete(ACCOUNT, SecretItem::ApiSecret).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "kill -9 at 0..{} ms after the rotating provider answered: {lost} of {KILLS} lost the refresh token",
        KILLS - 1
    );
    println!("the window, 101 grants (ms, p50 / p99):");
    println!(
        "  journal record, fsync'd (the window now)  {:6.2} / {:6.2}",
        percentile(&mut journaled, 0.5),
        percentile(&mut journaled, 0.99)
    );
    println!(
        "  keyring write (the window before)         {:6.2} / {:6.2}",
        percentile(&mut stored, 0.5),
        percentile(&mut stored, 0.99)
    );
}

//! The daemon at rest: RSS, CPU and wake-ups of the release `tokentray daemon`
//! over 60 idle seconds with 100 logged-in accounts, next to a daemon with no
//! account as the baseline measured over the same seconds.
//!
//! `cargo bench -p tokentray-cli --bench daemon_idle` (about 80 s).

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokentray_adapters::config::Config;
use tokentray_adapters::store::{PlaintextStore, SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_runtime::login::LoginOptions;
use tokentray_runtime::{Engine, EngineOptions, LogNotifier, SystemClock};
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};

const ACCOUNTS: usize = 100;
const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Sample {
    cpu_ticks: u64,
    rss_kib: u64,
    /// Context switches per thread id: each one is a wake-up of that thread.
    switches: std::collections::BTreeMap<String, u64>,
}

/// Wake-ups between two samples, over the threads alive in both (idle
/// blocking-pool threads come and go).
fn wakeups(a: &Sample, b: &Sample) -> u64 {
    b.switches.iter().filter_map(|(tid, n)| a.switches.get(tid).map(|m| n.saturating_sub(*m))).sum()
}

/// utime + stime of the process, VmRSS, and context switches over all its threads.
fn sample(pid: u32) -> Sample {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let cpu_ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |text: &str, name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let rss_kib = field(&status, "VmRSS:");
    let mut switches = std::collections::BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        if let Ok(s) = std::fs::read_to_string(task.path().join("status")) {
            let n = field(&s, "voluntary_ctxt_switches:") + field(&s, "nonvoluntary_ctxt_switches:");
            switches.insert(task.file_name().to_string_lossy().into_owned(), n);
        }
    }
    Sample { cpu_ticks, rss_kib, switches }
}

fn config_text(base: &str, redirect: &str, n: usize) -> String {
    let mut text = String::from("storage = \"plaintext\"\n");
    for i in 0..n {
        let (provider, extra) = if i % 2 == 0 { ("kite", "token_lifetime = \"20h\"\n") } else { ("schwab", "") };
        text.push_str(&format!(
            "\n[[account]]\nid = \"acct{i}\"\nprovider = \"{provider}\"\napi_key = \"app{i}\"\nredirect_uri = \"{redirect}\"\napi_base = \"{base}\"\nlogin_base = \"{base}\"\n{extra}"
        ));
    }
    text
}

async fn prepare(dir: &Path, sandbox: &Sandbox, redirect: &str, n: usize) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let text = config_text(&sandbox.url(), redirect, n);
    std::fs::write(dir.join("config.toml"), &text).unwrap();
    let config = Config::parse(&text, &dir.join("config.toml")).unwrap();
    let store = Arc::new(PlaintextStore::new(dir.join("data").join("secrets.json")));
    for i in 0..n {
        store.set(&format!("acct{i}"), SecretItem::ApiSecret, &Secret::new(format!("secret{i}"))).unwrap();
    }
    let engine = Engine::new(
        config,
        EngineOptions {
            data_dir: dir.join("data"),
            store,
            clock: Arc::new(SystemClock),
            notifier: Arc::new(LogNotifier),
        },
    )
    .unwrap();
    for i in 0..n {
        let options = LoginOptions::following_redirects();
        engine.login(&format!("acct{i}"), options).await.unwrap();
    }
}

fn daemon(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tokentray"))
        .arg("daemon")
        .env("TOKENTRAY_CONFIG", dir.join("config.toml"))
        .env("TOKENTRAY_DATA_DIR", dir.join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let redirect = format!("http://127.0.0.1:{port}/cb");
    let apps = (0..ACCOUNTS)
        .map(|i| {
            App::new(
                if i % 2 == 0 { ProviderKind::Kite } else { ProviderKind::Schwab },
                &format!("app{i}"),
                &format!("secret{i}"),
                &redirect,
                &format!("U{i}"),
            )
        })
        .collect();
    let sandbox = Sandbox::start(SandboxConfig { apps, ..SandboxConfig::default() }).await.unwrap();
    let root: PathBuf = tokentray_testkit::scratch("bench-idle");
    let (busy_dir, empty_dir) = (root.join("busy"), root.join("empty"));
    prepare(&busy_dir, &sandbox, &redirect, ACCOUNTS).await;
    prepare(&empty_dir, &sandbox, &redirect, 0).await;

    let mut busy = daemon(&busy_dir);
    let mut empty = daemon(&empty_dir);
    // Start-up: every restored token is validated once (spread over 5 s, each
    // writing the state file); then nothing is due for 25 minutes.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let requests_before = sandbox.requests().len();
    let (b0, e0) = (sample(busy.id()), sample(empty.id()));
    tokio::time::sleep(WINDOW).await;
    let (b1, e1) = (sample(busy.id()), sample(empty.id()));
    let requests = sandbox.requests().len() - requests_before;
    for child in [&mut busy, &mut empty] {
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&root);

    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let cpu =
        |a: &Sample, b: &Sample| (b.cpu_ticks - a.cpu_ticks) as f64 / ticks_per_sec / WINDOW.as_secs_f64() * 100.0;
    println!("daemon idle for {}s (release build, measured from /proc):", WINDOW.as_secs());
    println!(
        "  {ACCOUNTS} accounts: RSS {:.1} MB, CPU {:.3} %, context switches {} ({:.2}/s), provider requests {requests}",
        b1.rss_kib as f64 / 1024.0,
        cpu(&b0, &b1),
        wakeups(&b0, &b1),
        wakeups(&b0, &b1) as f64 / WINDOW.as_secs_f64()
    );
    println!(
        "  0 accounts (baseline): RSS {:.1} MB, CPU {:.3} %, context switches {}",
        e1.rss_kib as f64 / 1024.0,
        cpu(&e0, &e1),
        wakeups(&e0, &e1)
    );
    println!("  RSS ratio 100 accounts / baseline: {:.2}x", b1.rss_kib as f64 / e1.rss_kib.max(1) as f64);
}

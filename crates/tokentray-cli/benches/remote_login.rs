//! A server's login from the desktop over loopback SSH (a real sshd, the
//! real `tokentray` as the server's daemon and `remote-serve`), and a
//! change on the server reaching the desktop's engine, whose events the
//! tray redraws from.
//!
//! 1. Redirect to sink: from the moment the browser's redirect reaches the
//!    desktop's catcher (the bench plays the browser: it fetches the
//!    authorize URL, takes the sandbox's 302, and times the GET of its
//!    `Location`) to the server's sink file holding the new token (read
//!    every millisecond). Baseline in the same run, over the same session:
//!    a `status` round trip (the SSH hop alone).
//! 2. Server change to desktop: a renewal asked of the server's daemon over
//!    its control socket; timed to its reply (the token stored there) and to
//!    the desktop engine's `status_changed` for `oauth@vps`.
//!
//! `cargo bench -p tokentray-cli --bench remote_login` (about 30 s).

// Tests and benches stand beside the product: they read the wall clock.
#![allow(clippy::disallowed_methods)]

// A real sshd and a POSIX shell on the server's side: Unix only.
#[cfg(not(unix))]
fn main() {
    println!("remote_login: runs where sshd does (Unix)");
}

#[cfg(unix)]
fn main() {
    on_unix::main();
}

#[cfg(unix)]
mod on_unix {
    use std::process::{Command, Stdio};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use tokentray_adapters::config::Config;
    use tokentray_adapters::store::PlaintextStore;
    use tokentray_runtime::control::{self, call, LoginProgress};
    use tokentray_runtime::remote::{self, Route};
    use tokentray_runtime::{Engine, EngineOptions, EventKind, LogNotifier, SystemClock};
    use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};
    use tokentray_testkit::sshd::{Sshd, HOST_ALIAS};
    use tokentray_testkit::{free_port, scratch, wait_until, KilledOnDrop};

    const ROUNDS: usize = 101;

    fn percentile(samples: &mut [Duration], q: f64) -> f64 {
        samples.sort();
        samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3
    }

    fn tokentray(dir: &std::path::Path, args: &[&str], stdin: &str) {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokentray"))
            .args(args)
            .env("TOKENTRAY_CONFIG", dir.join("config.toml"))
            .env("TOKENTRAY_DATA_DIR", dir.join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "tokentray {args:?}");
    }

    #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    pub async fn main() {
        let server = scratch("bench-remote-server");
        let desktop = scratch("bench-remote-desktop");
        let redirect = format!("http://127.0.0.1:{}/cb", free_port());
        let sandbox = Sandbox::start(SandboxConfig {
            apps: vec![App {
                access_ttl: Some(Duration::from_secs(3600)),
                ..App::new(ProviderKind::Schwab, "oauthid", "oauthsecret", &redirect, "OA1")
            }],
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let sink = server.join("bot.env");
        std::fs::write(
            server.join("config.toml"),
            format!(
                "storage = \"plaintext\"\n[api]\nenabled = false\n[[account]]\nid = \"oauth\"\nprovider = \"schwab\"\n\
                 api_key = \"oauthid\"\nredirect_uri = \"{redirect}\"\napi_base = \"{base}\"\n\
                 [[account.sink]]\nformat = \"env\"\npath = \"{sink}\"\n",
                base = sandbox.url(),
                sink = sink.display()
            ),
        )
        .unwrap();
        tokentray(&server, &["secret", "set", "oauth"], "oauthsecret\n");
        let daemon = KilledOnDrop(
            Command::new(env!("CARGO_BIN_EXE_tokentray"))
                .arg("daemon")
                .env("TOKENTRAY_CONFIG", server.join("config.toml"))
                .env("TOKENTRAY_DATA_DIR", server.join("data"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let log = server.join("data/tokentray.log");
        wait_until("the server's daemon up", Duration::from_secs(20), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("daemon started"))
        });
        let data = server.join("data").display().to_string();
        let sshd = Sshd::start(&server.join("sshd"), &[("TOKENTRAY_DATA_DIR", &data)]);

        std::fs::write(
            desktop.join("config.toml"),
            format!(
                "storage = \"plaintext\"\n[api]\nenabled = false\n[[remote]]\nname = \"vps\"\nssh = \"{HOST_ALIAS}\"\n\
                 ssh_config = \"{}\"\ntokentray = \"{}\"\nconfig = \"{}\"\n",
                sshd.client_config.display(),
                env!("CARGO_BIN_EXE_tokentray"),
                server.join("config.toml").display()
            ),
        )
        .unwrap();
        let config = Config::load(&desktop.join("config.toml")).unwrap();
        let engine = Engine::new(
            config.clone(),
            EngineOptions {
                data_dir: desktop.join("data"),
                store: Arc::new(PlaintextStore::new(desktop.join("data/secrets.json"))),
                clock: Arc::new(SystemClock),
                notifier: Arc::new(LogNotifier),
            },
        )
        .unwrap();
        engine.follow_servers();
        let route = Route::of(&config, "oauth@vps").unwrap();
        let link = engine.server_link(&route).await.unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

        // 1. Redirect to the server's sink, and the SSH hop alone.
        let (mut to_sink, mut hop) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let asked = Instant::now();
            link.ask(call::Status {}).await.unwrap();
            hop.push(asked.elapsed());

            let before = std::fs::read_to_string(&sink).unwrap_or_default();
            let (url_tx, mut url_rx) = tokio::sync::mpsc::unbounded_channel();
            let progress = move |step: &LoginProgress| {
                if let LoginProgress::OpenBrowser { url, .. } = step {
                    let _ = url_tx.send(url.clone());
                }
            };
            let (_paste, pasted) = tokio::sync::mpsc::channel(1);
            let link_b = link.clone();
            let login = tokio::spawn(async move { remote::log_in(&link_b, "oauth", 60, progress, pasted).await });
            let authorize = url_rx.recv().await.unwrap();
            let approved = http.get(authorize).send().await.unwrap();
            let location = approved.headers()["location"].to_str().unwrap().to_owned();
            let sink_b = sink.clone();
            let redirected = Instant::now();
            let browser = tokio::spawn({
                let http = http.clone();
                async move { http.get(location).send().await.unwrap().status() }
            });
            let changed = tokio::task::spawn_blocking(move || loop {
                let now = std::fs::read_to_string(&sink_b).unwrap_or_default();
                if now != before && now.contains("SCHWAB_ACCESS_TOKEN=") {
                    return Instant::now();
                }
                assert!(redirected.elapsed() < Duration::from_secs(30), "the sink never took the token: {now}");
                std::thread::sleep(Duration::from_millis(1));
            })
            .await
            .unwrap();
            to_sink.push(changed - redirected);
            assert!(browser.await.unwrap().is_success());
            login.await.unwrap().unwrap();
        }

        // 2. A renewal on the server, to the desktop's event, timed where it arrives.
        let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<Instant>();
        let mut events = engine.subscribe();
        tokio::spawn(async move {
            while let Ok(e) = events.recv().await {
                if e.account == "oauth@vps" && e.kind == EventKind::StatusChanged {
                    let _ = arrived_tx.send(Instant::now());
                }
            }
        });
        let (mut stored, mut shown) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            while arrived.try_recv().is_ok() {}
            let asked = Instant::now();
            control::ask(&server.join("data"), call::Refresh { account: "oauth".into() }).await.unwrap();
            stored.push(asked.elapsed());
            let seen = loop {
                let at = tokio::time::timeout(Duration::from_secs(10), arrived.recv()).await.unwrap().unwrap();
                if at > asked {
                    break at;
                }
            };
            shown.push(seen - asked);
            // The desktop's second look (the server's token and status changes) settles before the next round.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(link);
        engine.shutdown();
        drop((daemon, sshd));
        let _ = std::fs::remove_dir_all(&server);
        let _ = std::fs::remove_dir_all(&desktop);

        println!("a server's login and changes over loopback SSH, {ROUNDS} rounds each (ms, p50 / p99):");
        for (label, samples) in [
            ("redirect caught -> server's sink holds it", &mut to_sink),
            ("baseline: a status round trip over SSH", &mut hop),
            ("server renewal asked -> stored there", &mut stored),
            ("server renewal asked -> desktop's event", &mut shown),
        ] {
            println!("  {label:<44} {:7.2} / {:7.2}", percentile(samples, 0.5), percentile(samples, 0.99));
        }
        println!(
            "  redirect-to-sink / SSH round trip, p50: {:.1}x",
            percentile(&mut to_sink, 0.5) / percentile(&mut hop, 0.5)
        );
    }
}

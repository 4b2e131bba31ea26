//! `tokentray.exe` under Wine, end to end, driven from Linux against the
//! sandbox broker on loopback: api secrets into Wine's Credential Manager,
//! a login by pasted address and one by the loopback callback, `token`,
//! `status`, the daemon serving the API to a Linux `curl` and writing a
//! sink while a Windows reader holds it open (briefly, then past the
//! write's patience), and a clean stop (`tokentray stop`); its config,
//! data and sink under a folder whose name is not ASCII.
//!
//! Ignored in the regular suite: it needs the Windows build and a Wine
//! prefix. `scripts/test-windows.sh` makes both and runs it with
//! `--ignored`, naming the programs in `TOKENTRAY_WINDOWS_EXE` and
//! `TOKENTRAY_WINDOWS_HOLD_EXE`.

use crate::common::{blocking, Checked, Running};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};
use tokentray_testkit::{free_port, scratch, wait_until};

/// A Linux path as Wine's Windows programs name it (`/` is drive Z:).
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

struct Wine {
    exe: PathBuf,
    hold: PathBuf,
    dir: PathBuf,
    sandbox: Sandbox,
    api_port: u16,
}

impl Wine {
    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("wine");
        c.arg(program)
            .args(args)
            .env("WINEDEBUG", "-all")
            .env("TOKENTRAY_CONFIG", windows_path(&self.dir.join("config.toml")))
            .env("TOKENTRAY_DATA_DIR", windows_path(&self.dir.join("data")))
            .env_remove("TOKENTRAY_LOG")
            .env_remove("DISPLAY");
        c
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(&self.exe, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        child.wait_with_output().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("data/tokentray.log")).unwrap_or_default()
    }

    fn sink(&self) -> String {
        std::fs::read_to_string(self.dir.join("bot.env")).unwrap_or_default()
    }

    /// A Windows reader holding the sink open for `ms`, once it says so.
    fn hold_sink(&self, ms: u64) -> Running {
        let mut holder = Running(
            self.command(&self.hold, &[&windows_path(&self.dir.join("bot.env")), &ms.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        );
        let mut line = String::new();
        BufReader::new(holder.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "held", "the reader holds the file");
        holder
    }
}

fn program(var: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .unwrap_or_else(|| panic!("{var} is not set: scripts/test-windows.sh builds the programs and runs this"));
    PathBuf::from(path)
}

async fn setup() -> Wine {
    // A user name that is not ASCII, as many are.
    let dir = scratch("windows-e2e").join("Zoë Müller");
    std::fs::create_dir_all(&dir).unwrap();
    let (kite_port, oauth_port, api_port) = (free_port(), free_port(), free_port());
    let kite_redirect = format!("http://127.0.0.1:{kite_port}/cb");
    let oauth_redirect = format!("http://127.0.0.1:{oauth_port}/cb");
    let sandbox = Sandbox::start(SandboxConfig {
        apps: vec![
            App::new(ProviderKind::Kite, "kitekey", "kitesecret", &kite_redirect, "AB1234"),
            App {
                access_ttl: Some(Duration::from_secs(600)),
                ..App::new(ProviderKind::Schwab, "oauthid", "oauthsecret", &oauth_redirect, "OA1")
            },
        ],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let base = sandbox.url();
    // The OS keyring (Wine's Credential Manager); a Windows path in 'single quotes'.
    let config = format!(
        r#"
http_timeout = "5s"

[api]
port = {api_port}

[[account]]
id = "kite"
provider = "kite"
api_key = "kitekey"
redirect_uri = "{kite_redirect}"
api_base = "{base}"
login_base = "{base}"

[[account]]
id = "oauth"
provider = "schwab"
api_key = "oauthid"
redirect_uri = "{oauth_redirect}"
api_base = "{base}"

[[account.sink]]
format = "env"
path = '{sink}'
"#,
        sink = windows_path(&dir.join("bot.env"))
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
    std::fs::write(dir.join("bot.env"), "# my bot\nLOG_LEVEL=info\n").unwrap();
    Wine { exe: program("TOKENTRAY_WINDOWS_EXE"), hold: program("TOKENTRAY_WINDOWS_HOLD_EXE"), dir, sandbox, api_port }
}

/// Runs `login ACCOUNT --no-browser`, hands its authorize URL to `browse`,
/// and answers it with whatever `browse` returns to paste (or nothing).
async fn log_in(
    w: &std::sync::Arc<Wine>,
    account: &str,
    browse: impl FnOnce(String) -> Option<String> + Send + 'static,
) {
    let t = w.clone();
    let account = account.to_owned();
    let mut child = blocking(move || {
        Running(
            t.command(&t.exe, &["login", &account, "--no-browser"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    })
    .await;
    let stderr = child.stderr.take().unwrap();
    // Its standard error, line by line, kept for the failure message.
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let (url, mut said) = blocking(move || {
        let mut said = Vec::new();
        while let Ok(line) = lines_rx.recv_timeout(Duration::from_secs(60)) {
            said.push(line.clone());
            if line.trim_start().starts_with("http") {
                return (line.trim().to_owned(), (said, lines_rx));
            }
        }
        panic!("no authorize URL printed: {said:?}");
    })
    .await;
    let paste = blocking(move || browse(url)).await;
    if let Some(paste) = paste {
        // A login that already ended (and said why) is reported below.
        let _ = child.stdin.as_mut().unwrap().write_all(format!("{paste}\n").as_bytes());
    }
    let status = blocking(move || child.wait().unwrap()).await;
    said.0.extend(said.1.try_iter());
    assert!(status.success(), "the login succeeded: {status:?}: {:?}", said.0);
}

/// The address the authorize URL redirects to (what a person would paste).
fn redirect_of(url: &str) -> String {
    let out = Command::new("curl").args(["-s", "-o", "/dev/null", "-w", "%{redirect_url}", url]).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[ignore = "runs tokentray.exe under Wine: scripts/test-windows.sh runs it"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokentray_exe_under_wine_end_to_end() {
    let w = std::sync::Arc::new(setup().await);
    let step = |what: &str, started: Instant| eprintln!("windows e2e: {what} ({} ms)", started.elapsed().as_millis());

    let t = Instant::now();
    for (account, secret) in [("kite", "kitesecret"), ("oauth", "oauthsecret")] {
        let w = w.clone();
        blocking(move || w.run(&["secret", "set", account], &format!("{secret}\n"))).await.success();
    }
    step("api secrets stored in the Credential Manager", t);

    let t = Instant::now();
    log_in(&w, "kite", |url| Some(redirect_of(&url))).await;
    step("kite: logged in with the pasted address", t);
    let t = Instant::now();
    // The "browser" (Linux curl) follows the redirect to tokentray.exe's loopback callback.
    log_in(&w, "oauth", |url| {
        let ok = Command::new("curl").args(["-s", "-f", "-o", "/dev/null", "-L", &url]).status().unwrap();
        assert!(ok.success(), "the callback answered");
        None
    })
    .await;
    step("oauth: logged in through the loopback callback", t);
    assert_eq!(w.sandbox.requests_to("/session/token").len(), 1, "kite's code exchanged once");

    let t = Instant::now();
    let u = w.clone();
    let token = blocking(move || u.run(&["token", "kite"], "")).await.success().stdout();
    let issued = w.sandbox.live_access_tokens();
    assert!(issued.iter().any(|t| t == token.trim()), "the token the sandbox issued: {token}");
    let u = w.clone();
    let status = blocking(move || u.run(&["status", "--json"], "")).await.success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    assert_eq!(json["storage_plaintext"], false, "secrets in the Credential Manager");
    for account in json["accounts"].as_array().unwrap() {
        assert_eq!(account["state"], "valid", "{account}");
    }
    assert!(w.sink().contains("# my bot") && w.sink().contains("LOG_LEVEL=info"), "the bot's lines kept");
    step("token and status", t);

    // The daemon, its API read by a Linux curl.
    let t = Instant::now();
    let u = w.clone();
    let mut daemon = blocking(move || {
        let daemon = Running(
            u.command(&u.exe, &["daemon"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_until("the daemon up", Duration::from_secs(60), || u.log().contains("daemon started"));
        daemon
    })
    .await;
    step("daemon started", t);
    let u = w.clone();
    let key = blocking(move || u.run(&["api-key"], "")).await.success().stdout().trim().to_owned();
    let url = format!("http://127.0.0.1:{}/v1/accounts/oauth/token", w.api_port);
    let answer =
        Command::new("curl").args(["-s", "-f", "-H", &format!("Authorization: Bearer {key}"), &url]).output().unwrap();
    assert!(answer.status.success(), "the API answered curl");
    let body: serde_json::Value = serde_json::from_slice(&answer.stdout).unwrap();
    let before = body["access_token"].as_str().unwrap().to_owned();
    assert!(w.sink().contains(&before), "the sink holds the token the API hands out");

    // A Windows reader holds the sink briefly while a renewal rewrites it:
    // the write waits for it and goes through, whole.
    let t = Instant::now();
    let holder = w.hold_sink(1000);
    let u = w.clone();
    blocking(move || u.run(&["refresh", "oauth"], "")).await.success();
    let held = blocking(move || holder.wait_with_output_of_running()).await;
    assert!(held.contains("let go"), "{held}");
    let u = w.clone();
    let renewed = blocking(move || u.run(&["token", "oauth"], "")).await.success().stdout().trim().to_owned();
    assert_ne!(renewed, before);
    let u = w.clone();
    blocking(move || wait_until("the sink rewritten", Duration::from_secs(30), || u.sink().contains(&renewed))).await;
    step("sink rewritten while a reader held it for 1 s", t);

    // One that holds it past the write's patience: reported in the status,
    // the old content whole, and written once it lets go.
    let t = Instant::now();
    let holder = w.hold_sink(5000);
    let u = w.clone();
    blocking(move || u.run(&["refresh", "oauth"], "")).await.success();
    let u = w.clone();
    let status = blocking(move || u.run(&["status", "--json"], "")).await.success().stdout();
    let json: serde_json::Value = serde_json::from_str(&status).unwrap();
    let oauth = json["accounts"].as_array().unwrap().iter().find(|a| a["id"] == "oauth").unwrap().clone();
    assert!(oauth["sinks"].to_string().contains("stayed open in another program"), "reported: {oauth}");
    let u = w.clone();
    let newest = blocking(move || u.run(&["token", "oauth"], "")).await.success().stdout().trim().to_owned();
    assert!(!w.sink().contains(&newest) && w.sink().contains("LOG_LEVEL=info"), "the old content whole");
    drop(blocking(move || holder.wait_with_output_of_running()).await);
    let u = w.clone();
    blocking(move || wait_until("the sink's retry", Duration::from_secs(60), || u.sink().contains(&newest))).await;
    step("a sink held past the retries: reported, then written", t);

    // A clean stop, as SIGTERM on Linux.
    let t = Instant::now();
    let u = w.clone();
    blocking(move || u.run(&["stop"], "")).await.success();
    let status = blocking(move || daemon.wait().unwrap()).await;
    assert!(status.success(), "{status:?}");
    assert!(w.log().contains("asked to stop") && w.log().contains("stopped"), "{}", w.log());
    step("stopped cleanly", t);
}

trait Finished {
    fn wait_with_output_of_running(self) -> String;
}

impl Finished for Running {
    /// Its standard output, once it has exited.
    fn wait_with_output_of_running(mut self) -> String {
        let mut out = String::new();
        if let Some(mut stdout) = self.stdout.take() {
            std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
        }
        let _ = self.wait();
        out
    }
}

//! The real `tokentray` binary against the sandbox over loopback: login through
//! `$BROWSER`, token, status, expiry, the daemon's scheduled refresh and
//! shutdown, two processes refreshing at once, a broken config edit.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tokentray_sandbox::{App, Endpoint, Fault, Flavor, Sandbox, SandboxConfig};
use tokentray_testkit::{free_port, scratch, wait_until};

struct Setup {
    sandbox: Sandbox,
    dir: PathBuf,
    api_port: u16,
}

async fn setup(name: &str) -> Setup {
    let dir = scratch(&format!("e2e-{name}"));
    let (kite_port, oauth_port, api_port) = (free_port(), free_port(), free_port());
    let kite_redirect = format!("http://127.0.0.1:{kite_port}/cb");
    let oauth_redirect = format!("http://127.0.0.1:{oauth_port}/cb");
    let sandbox = Sandbox::start(SandboxConfig {
        apps: vec![
            App {
                access_ttl: Some(Duration::from_secs(3)),
                ..App::new(Flavor::Kite, "kitekey", "kitesecret", &kite_redirect, "AB1234")
            },
            App {
                access_ttl: Some(Duration::from_secs(6)),
                ..App::new(Flavor::OAuth2, "oauthid", "oauthsecret", &oauth_redirect, "OA1")
            },
        ],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let base = sandbox.url();
    let config = format!(
        r#"
storage = "plaintext"
http_timeout = "3s"

[api]
port = {api_port}

[[account]]
id = "kite"
provider = "kite"
api_key = "kitekey"
redirect_uri = "{kite_redirect}"
api_base = "{base}"
login_base = "{base}"
token_lifetime = "3s"

[[account]]
id = "oauth"
provider = "schwab"
api_key = "oauthid"
redirect_uri = "{oauth_redirect}"
api_base = "{base}"

[[account.sink]]
format = "env"
path = "{sink}"
"#,
        sink = dir.join("bot.env").display()
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
    std::fs::write(dir.join("bot.env"), "# my bot\nLOG_LEVEL=info\n").unwrap();
    let s = Setup { sandbox, dir, api_port };
    s.run(&["secret", "set", "kite"], "kitesecret\n").success();
    s.run(&["secret", "set", "oauth"], "oauthsecret\n").success();
    s
}

trait Checked {
    fn success(self) -> Output;
    fn stdout(&self) -> String;
    fn stderr(&self) -> String;
}

impl Checked for Output {
    fn success(self) -> Output {
        assert!(self.status.success(), "exit {:?}: {}", self.status.code(), String::from_utf8_lossy(&self.stderr));
        self
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl Setup {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tokentray"));
        c.args(args)
            .env("TOKENTRAY_CONFIG", self.dir.join("config.toml"))
            .env("TOKENTRAY_DATA_DIR", self.dir.join("data"))
            // The "browser" follows the authorize URL to the callback, as a person's would.
            .env("BROWSER", "curl -s -o /dev/null -L %s")
            .env_remove("TOKENTRAY_LOG");
        c
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child =
            self.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        child.wait_with_output().unwrap()
    }

    fn spawn(&self, args: &[&str]) -> Running {
        // The daemon logs to its file too; an unread pipe would fill and block it.
        Running(self.command(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("data/tokentray.log")).unwrap_or_default()
    }
}

/// A child process that is killed when the test lets go of it, also when
/// the test panics: a failed test leaves no daemon behind.
struct Running(Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts the daemon and waits for its readiness line, which it writes once
/// its control socket, API and watcher are all up.
async fn start_daemon(s: &std::sync::Arc<Setup>) -> Running {
    let t = s.clone();
    blocking(move || {
        let daemon = t.spawn(&["daemon"]);
        wait_until("the daemon up", Duration::from_secs(10), || t.log().contains("daemon started"));
        daemon
    })
    .await
}

/// Runs blocking child-process work off the runtime that serves the sandbox.
async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    tokio::task::spawn_blocking(f).await.unwrap()
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the daemon did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_then_token_then_expiry_exits_4() {
    let s = setup("login").await;
    let s = std::sync::Arc::new(s);
    let t = s.clone();
    let login = blocking(move || t.run(&["login", "kite"], "")).await.success();
    assert!(login.stderr().contains("kite: logged in as AB1234"), "{}", login.stderr());

    let t = s.clone();
    let token = blocking(move || t.run(&["token", "kite"], "")).await.success();
    let issued = s.sandbox.live_access_tokens();
    assert_eq!(token.stdout().trim(), issued.last().unwrap(), "prints the token the sandbox issued, alone");
    assert_eq!(token.stdout().lines().count(), 1);
    assert!(token.stderr().is_empty(), "{}", token.stderr());

    let t = s.clone();
    let status = blocking(move || t.run(&["status", "--json"], "")).await.success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    let kite = json["accounts"].as_array().unwrap().iter().find(|a| a["id"] == "kite").unwrap().clone();
    assert_eq!(kite["state"], "valid");
    assert_eq!(kite["user_id"], "AB1234");
    assert_eq!(json["storage_plaintext"], true);

    // The token lives 3 seconds.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let t = s.clone();
    let expired = blocking(move || t.run(&["token", "kite"], "")).await;
    assert_eq!(expired.status.code(), Some(4), "{}", expired.stderr());
    assert!(expired.stdout().is_empty());
    assert!(expired.stderr().contains("run `tokentray login kite`"), "{}", expired.stderr());
    let log = std::fs::read_to_string(s.dir.join("data/state.json")).unwrap();
    assert!(!log.contains(issued.last().unwrap()), "no token in the state file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_refreshes_before_expiry_and_stops_on_sigterm() {
    let s = std::sync::Arc::new(setup("daemon").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    let first = s.sandbox.live_access_tokens().last().unwrap().clone();

    let mut daemon = start_daemon(&s).await;
    let t = s.clone();
    // 6-second tokens are refreshed half-way through, with nobody asking.
    blocking(move || {
        wait_until("a scheduled refresh", Duration::from_secs(15), || {
            t.sandbox.requests_to("/v1/oauth/token").iter().any(|r| r.form()["grant_type"] == "refresh_token")
        })
    })
    .await;
    let t = s.clone();
    blocking(move || wait_until("the refresh logged", Duration::from_secs(5), || t.log().contains("refreshed"))).await;
    let t = s.clone();
    let token = blocking(move || t.run(&["token", "oauth"], "")).await.success().stdout();
    assert_ne!(token.trim(), first, "the token in use is the refreshed one");
    assert_eq!(token.trim(), s.sandbox.live_access_tokens().last().unwrap());
    assert!(s.log().contains("control request: token oauth"), "the CLI asked the daemon: {}", s.log());

    // A second engine on the same data directory is refused.
    let t = s.clone();
    let second = blocking(move || t.run(&["daemon"], "")).await;
    assert_eq!(second.status.code(), Some(3), "not a usage error: {}", second.stderr());
    assert!(second.stderr().contains("already running"), "{}", second.stderr());

    let status = blocking(move || terminate(&mut daemon)).await;
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let log = s.log();
    assert!(log.contains("daemon started") && log.contains("stopped"), "{log}");
    assert!(!log.contains(&first) && !log.contains(token.trim()), "tokens never reach the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_refreshing_at_once_make_one_provider_call() {
    let s = std::sync::Arc::new(setup("two-refresh").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    s.sandbox.inject(Endpoint::OAuth2Token, Fault::delay(Duration::from_millis(500)), Some(1));
    let (a, b) = (s.clone(), s.clone());
    let (ra, rb) = tokio::join!(
        blocking(move || a.run(&["refresh", "oauth"], "")),
        blocking(move || b.run(&["refresh", "oauth"], ""))
    );
    ra.success();
    rb.success();
    let refreshes =
        s.sandbox.requests_to("/v1/oauth/token").iter().filter(|r| r.form()["grant_type"] == "refresh_token").count();
    assert_eq!(refreshes, 1, "the second process picked up the first one's token");
    let t = s.clone();
    let token = blocking(move || t.run(&["token", "oauth"], "")).await.success().stdout();
    assert_eq!(token.trim(), s.sandbox.live_access_tokens().last().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_config_edit_leaves_the_daemon_on_the_old_one() {
    let s = std::sync::Arc::new(setup("bad-edit").await);
    let mut daemon = start_daemon(&s).await;
    let path = s.dir.join("config.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, good.replace("provider = \"schwab\"", "provider = \"schwabb\"")).unwrap();
    let t = s.clone();
    blocking(move || {
        wait_until("the bad edit reported", Duration::from_secs(10), || t.log().contains("config edit ignored"))
    })
    .await;
    assert!(s.log().contains("config.toml:"), "the error names the line: {}", s.log());
    assert!(daemon.try_wait().unwrap().is_none(), "the daemon keeps running");

    std::fs::write(&path, good.replace("id = \"oauth\"", "id = \"schwab\"")).unwrap();
    let t = s.clone();
    blocking(move || {
        wait_until("the good edit applied", Duration::from_secs(10), || t.log().contains("config reloaded"))
    })
    .await;
    let status = blocking(move || terminate(&mut daemon)).await;
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_browser_login_accepts_the_pasted_url() {
    let s = std::sync::Arc::new(setup("paste").await);
    // The pasted URL: what the browser would land on, had it logged in.
    let t = s.clone();
    let mut child = blocking(move || {
        t.command(&["login", "kite", "--no-browser"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    })
    .await;
    let mut stderr = child.stderr.take().unwrap();
    let url = blocking(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 512];
        loop {
            let n = std::io::Read::read(&mut stderr, &mut buf).unwrap();
            assert!(n > 0, "no URL printed: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            if let Some(line) = seen.lines().find(|l| l.trim_start().starts_with("http")) {
                return (line.trim().to_owned(), stderr);
            }
        }
    })
    .await;
    let (authorize, _stderr) = url;
    let http = reqwest_free_get(&authorize).await;
    child.stdin.as_mut().unwrap().write_all(format!("{http}\n").as_bytes()).unwrap();
    let status = blocking(move || child.wait().unwrap()).await;
    assert!(status.success());
    assert_eq!(s.sandbox.requests_to("/session/token").len(), 1);
}

/// The Location the authorize URL redirects to, read with a plain HTTP/1.1 request.
async fn reqwest_free_get(url: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    let path = format!("{}?{}", url.path(), url.query().unwrap_or(""));
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    blocking(move || {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response.lines().find_map(|l| l.strip_prefix("location: ")).expect("a redirect").trim().to_owned()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_restarts_the_command_when_the_daemon_gets_a_new_token() {
    let s = std::sync::Arc::new(setup("exec").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    let mut daemon = start_daemon(&s).await;
    let seen = s.dir.join("tokens.txt");
    let script = format!("echo \"$SCHWAB_ACCESS_TOKEN $TOKENTRAY_ACCOUNT\" >> {}; exec sleep 100", seen.display());
    let t = s.clone();
    let mut exec = blocking(move || {
        t.command(&["exec", "oauth", "--restart-on-change", "--grace", "2s", "--", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    })
    .await;
    let t = seen.clone();
    blocking(move || {
        wait_until("the command restarted with a new token", Duration::from_secs(20), || {
            std::fs::read_to_string(&t).map(|x| x.lines().count() >= 2).unwrap_or(false)
        })
    })
    .await;
    let lines: Vec<String> = std::fs::read_to_string(&seen).unwrap().lines().map(str::to_owned).collect();
    assert_ne!(lines[0], lines[1], "a new token the second time: {lines:?}");
    assert!(lines[1].ends_with(" oauth"));
    let newest = s.sandbox.live_access_tokens().last().unwrap().clone();
    assert!(lines.iter().any(|l| l.starts_with(&newest)) || lines.len() > 2, "{lines:?} vs {newest}");
    // The signal reaches the command; its way of ending is ours.
    let status = blocking(move || terminate(&mut exec)).await;
    assert_eq!(status.code(), Some(128 + 15), "exit code of a child ended by SIGTERM: {status:?}");
    blocking(move || terminate(&mut daemon)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_passes_the_exit_code_and_header_prints_the_authorization() {
    let s = std::sync::Arc::new(setup("exec-code").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "kite"], "")).await.success();
    let t = s.clone();
    let out = blocking(move || {
        t.run(&["exec", "kite", "--", "sh", "-c", "echo $KITE_API_KEY:$KITE_ACCESS_TOKEN; exit 7"], "")
    })
    .await;
    assert_eq!(out.status.code(), Some(7));
    let token = s.sandbox.live_access_tokens().last().unwrap().clone();
    assert_eq!(out.stdout().trim(), format!("kitekey:{token}"));
    let t = s.clone();
    let header = blocking(move || t.run(&["header", "kite"], "")).await.success();
    assert_eq!(header.stdout().trim(), format!("token kitekey:{token}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_examples_follow_new_tokens_from_the_daemon() {
    let s = std::sync::Arc::new(setup("examples").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    let env_file = s.dir.join("bot.env");
    let t = s.clone();
    let key = blocking(move || t.run(&["api-key"], "")).await.success().stdout().trim().to_owned();
    let mut daemon = start_daemon(&s).await;
    let port = s.api_port;
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let bot = blocking(move || {
        Command::new("python3")
            .arg(format!("{examples}/sse_bot.py"))
            .args(["oauth", "--exit-after", "1"])
            .env("TOKENTRAY_API", format!("http://127.0.0.1:{port}"))
            .env("TOKENTRAY_API_KEY", key)
            .output()
            .unwrap()
    })
    .await;
    assert!(bot.status.success(), "{}", String::from_utf8_lossy(&bot.stderr));
    let said = String::from_utf8_lossy(&bot.stdout).into_owned();
    assert_eq!(
        said.matches("market feed: connected").count(),
        2,
        "connected, then reconnected on the new token: {said}"
    );
    assert!(said.contains("closing the session on the old token"));

    // The daemon also wrote the token to the .env sink, keeping the other lines.
    let consumer = blocking(move || {
        Command::new("python3")
            .arg(format!("{examples}/dotenv_consumer.py"))
            .args([env_file.to_str().unwrap(), "SCHWAB_ACCESS_TOKEN", "--once"])
            .output()
            .unwrap()
    })
    .await;
    assert!(consumer.status.success(), "{}", String::from_utf8_lossy(&consumer.stderr));
    let from_file = String::from_utf8_lossy(&consumer.stdout).trim().to_owned();
    let t = s.clone();
    let current = blocking(move || t.run(&["token", "oauth"], "")).await.success().stdout().trim().to_owned();
    assert_eq!(from_file, current);
    assert!(std::fs::read_to_string(s.dir.join("bot.env")).unwrap().starts_with("# my bot\nLOG_LEVEL=info\n"));
    blocking(move || terminate(&mut daemon)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_token_tell_a_revoked_token_by_their_exit_codes() {
    let s = std::sync::Arc::new(setup("check").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "kite"], "")).await.success();
    let t = s.clone();
    let valid = blocking(move || t.run(&["check", "kite"], "")).await.success();
    assert!(valid.stderr().contains("kite: still valid until"), "{}", valid.stderr());
    let t = s.clone();
    let refresh = blocking(move || t.run(&["refresh", "kite"], "")).await.success();
    assert!(refresh.stderr().contains("still valid until"), "refresh checks a Kite token: {}", refresh.stderr());

    // A login elsewhere ends the session at the broker.
    s.sandbox.expire_access_tokens();
    let t = s.clone();
    let check = blocking(move || t.run(&["check", "kite"], "")).await;
    assert_eq!(check.status.code(), Some(4), "{}", check.stderr());
    assert!(check.stderr().contains("the broker ended this token"), "{}", check.stderr());
    assert_eq!(check.stderr().matches("tokentray:").count(), 1, "the error is printed once: {}", check.stderr());
    assert!(!check.stderr().contains('\u{1b}'), "no colour codes off a terminal: {}", check.stderr());
    let t = s.clone();
    let token = blocking(move || t.run(&["token", "kite"], "")).await;
    assert_eq!(token.status.code(), Some(4), "a rejected token is never printed");
    assert!(token.stdout().is_empty());

    // Without the api secret, the fix is `secret set`, not a login: exit 5.
    let t = s.clone();
    blocking(move || t.run(&["secret", "delete", "kite"], "")).await.success();
    let t = s.clone();
    let missing = blocking(move || t.run(&["login", "kite"], "")).await;
    assert_eq!(missing.status.code(), Some(5), "a missing api secret has its own code: {}", missing.stderr());
    assert!(missing.stderr().contains("tokentray secret set kite"), "{}", missing.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_reports_a_refused_token_and_carries_on_after_the_login() {
    let s = std::sync::Arc::new(setup("report").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "kite"], "")).await.success();
    let t = s.clone();
    let key = blocking(move || t.run(&["api-key"], "")).await.success().stdout().trim().to_owned();
    let mut daemon = start_daemon(&s).await;
    let port = s.api_port;
    // A login elsewhere ends the session at the broker.
    s.sandbox.expire_access_tokens();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let broker = s.sandbox.url();
    let mut bot = Running(
        Command::new("python3")
            .arg(format!("{examples}/report_and_wait.py"))
            .args(["kite", "--broker", &broker])
            .env("TOKENTRAY_API", format!("http://127.0.0.1:{port}"))
            .env("TOKENTRAY_API_KEY", key)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let state = s.dir.join("data/state.json");
    blocking(move || {
        wait_until("the bot's report recorded", Duration::from_secs(20), || {
            std::fs::read_to_string(&state).is_ok_and(|t| t.contains("\"access_rejected\": true"))
        })
    })
    .await;
    // The daemon cannot open a browser: the CLI logs in itself, and says nothing else.
    let t = s.clone();
    let login = blocking(move || t.run(&["login", "kite"], "")).await.success();
    assert!(!login.stderr().contains("running TokenTray"), "{}", login.stderr());
    let out = blocking(move || {
        wait_until("the bot to finish", Duration::from_secs(30), || matches!(bot.try_wait(), Ok(Some(_))));
        let mut text = String::new();
        std::io::Read::read_to_string(bot.stdout.as_mut().unwrap(), &mut text).unwrap();
        (bot.try_wait().unwrap().unwrap(), text)
    })
    .await;
    assert!(out.0.success(), "{}", out.1);
    assert!(out.1.contains("the broker refused the token; reported it (409)"), "{}", out.1);
    assert!(out.1.contains("working again on the new token"), "{}", out.1);
    blocking(move || terminate(&mut daemon)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_puts_right_what_a_crash_left_behind() {
    let s = std::sync::Arc::new(setup("recover").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    // A crash left the sink on an older token, and a temp file of an atomic
    // write (of a process that no longer runs) holding a token.
    let sink = s.dir.join("bot.env");
    let text = std::fs::read_to_string(&sink).unwrap();
    let stale: String = text
        .lines()
        .map(|l| if l.starts_with("SCHWAB_ACCESS_TOKEN=") { "SCHWAB_ACCESS_TOKEN=stale-token" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&sink, stale + "\n").unwrap();
    let leftover = s.dir.join(".bot.env.tmp-0-AbCdEf");
    std::fs::write(&leftover, "SCHWAB_ACCESS_TOKEN=leaked\n").unwrap();

    // The daemon says it started only after putting that right.
    let mut daemon = start_daemon(&s).await;
    assert!(!leftover.exists(), "the dead writer's temp file is removed");
    let log = s.log();
    assert!(log.contains("1 leftover temp file(s) removed, 1 stale sink(s) rewritten"), "{log}");
    let now = std::fs::read_to_string(&sink).unwrap();
    let token = now.lines().find_map(|l| l.strip_prefix("SCHWAB_ACCESS_TOKEN=")).unwrap().to_owned();
    assert!(s.sandbox.live_access_tokens().contains(&token), "the sink holds a live token again: {now}");
    assert!(now.starts_with("# my bot\nLOG_LEVEL=info\n"), "{now}");

    // Another process sees the sink's result: it is in the state file.
    let t = s.clone();
    let status = blocking(move || t.run(&["status", "--json"], "")).await.success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    let oauth = json["accounts"].as_array().unwrap().iter().find(|a| a["id"] == "oauth").unwrap().clone();
    let sinks = oauth["sinks"].as_array().unwrap();
    assert_eq!(sinks.len(), 1, "{oauth}");
    assert_eq!(sinks[0]["ok"], true);
    assert!(sinks[0]["path"].as_str().unwrap().ends_with("bot.env"));
    blocking(move || terminate(&mut daemon)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_waits_for_a_refresh_in_flight() {
    let s = std::sync::Arc::new(setup("drain").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    // The broker is slow to answer the next refresh: SIGTERM will land while it runs.
    s.sandbox.inject(Endpoint::OAuth2Token, Fault::delay(Duration::from_millis(1500)), Some(1));
    let before = s.sandbox.requests_to("/v1/oauth/token").len();
    let mut daemon = start_daemon(&s).await;
    let t = s.clone();
    blocking(move || {
        wait_until("the scheduled refresh sent", Duration::from_secs(15), || {
            t.sandbox.requests_to("/v1/oauth/token").len() > before
        })
    })
    .await;
    let status = blocking(move || terminate(&mut daemon)).await;
    assert!(status.success(), "{status:?}");
    let log = s.log();
    let refreshed = log.find("refreshed").expect("the refresh in flight finished");
    assert!(refreshed < log.rfind("stopped").unwrap(), "{log}");
    // What the broker issued last is what is stored: nothing was cut off.
    let t = s.clone();
    let token = blocking(move || t.run(&["token", "oauth"], "")).await.success();
    assert_eq!(token.stdout().trim(), s.sandbox.live_access_tokens().last().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_works_for_its_own_account_only() {
    let s = std::sync::Arc::new(setup("exec-focus").await);
    for account in ["kite", "oauth"] {
        let t = s.clone();
        blocking(move || t.run(&["login", account], "")).await.success();
    }
    s.sandbox.clear_requests();
    // No daemon: exec's own engine runs while the command does. `oauth`'s
    // 6-second token falls due for a refresh 3 s after its login: an engine
    // working for every account would renew it (and tell the command's
    // output about it); this one works for `kite` alone.
    let t = s.clone();
    let out = blocking(move || t.run(&["exec", "kite", "--restart-on-change", "--", "sleep", "5"], "")).await;
    assert!(out.status.success(), "{}", out.stderr());
    assert!(s.sandbox.requests_to("/v1/oauth/token").is_empty(), "nothing was done for oauth");
    assert!(!out.stderr().contains("oauth"), "the command's output hears nothing of oauth: {}", out.stderr());
}

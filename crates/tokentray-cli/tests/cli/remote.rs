//! A desktop that logs in for a server over SSH (`[[remote]]`): a real
//! OpenSSH server on loopback (`tokentray_testkit::sshd`), the server's
//! TokenTray as a daemon with its own data directory and config, and the
//! desktop's TokenTray with a second data directory and config naming it.

use crate::common::*;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokentray_testkit::sshd::{Sshd, HOST_ALIAS};
use tokentray_testkit::{scratch, wait_until};

/// The server (the shared `Setup`: a sandbox broker, a config, a data
/// directory) behind sshd, and a desktop of its own.
pub struct Pair {
    pub server: Arc<Setup>,
    pub sshd: std::sync::Mutex<Sshd>,
    pub desktop: PathBuf,
}

pub async fn pair(name: &str, extra_remote: &str) -> Pair {
    let server = Arc::new(setup(&format!("remote-{name}")).await);
    let data = server.dir.join("data");
    let sshd_dir = server.dir.join("sshd");
    let sshd = blocking(move || Sshd::start(&sshd_dir, &[("TOKENTRAY_DATA_DIR", &data.display().to_string())])).await;
    let desktop = scratch(&format!("remote-{name}-desktop"));
    let config = format!(
        "storage = \"plaintext\"\n\n[api]\nenabled = false\n\n[[remote]]\nname = \"vps\"\nssh = \"{HOST_ALIAS}\"\n\
         ssh_config = \"{ssh_config}\"\ntokentray = \"{bin}\"\nconfig = \"{server_config}\"\n{extra_remote}\n",
        ssh_config = sshd.client_config.display(),
        bin = env!("CARGO_BIN_EXE_tokentray"),
        server_config = server.dir.join("config.toml").display(),
    );
    std::fs::write(desktop.join("config.toml"), config).unwrap();
    Pair { server, sshd: std::sync::Mutex::new(sshd), desktop }
}

impl Pair {
    pub fn desktop_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tokentray"));
        c.args(args)
            .env("TOKENTRAY_CONFIG", self.desktop.join("config.toml"))
            .env("TOKENTRAY_DATA_DIR", self.desktop.join("data"))
            .env("BROWSER", "curl -s -o /dev/null -L %s")
            .env_remove("TOKENTRAY_LOG");
        c
    }

    pub fn desktop(&self, args: &[&str]) -> Output {
        self.desktop_command(args).stdin(Stdio::null()).output().unwrap()
    }

    pub fn desktop_log(&self) -> String {
        std::fs::read_to_string(self.desktop.join("data/tokentray.log")).unwrap_or_default()
    }

    pub fn desktop_daemon(&self) -> Running {
        self.desktop_daemon_start(1)
    }

    /// Starts the desktop's daemon, its `nth` start in this test, and waits until it is up.
    pub fn desktop_daemon_start(&self, nth: usize) -> Running {
        let daemon = Running(
            self.desktop_command(&["daemon"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_until("the desktop's daemon up", Duration::from_secs(10), || {
            self.desktop_log().matches("daemon started").count() == nth
        });
        daemon
    }

    /// The desktop's view of one account, from `status --json`.
    pub fn desktop_account(&self, id: &str) -> Option<serde_json::Value> {
        let out = self.desktop(&["status", "--json"]);
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        status["accounts"].as_array()?.iter().find(|a| a["id"] == id).cloned()
    }

    pub fn desktop_server(&self) -> serde_json::Value {
        let out = self.desktop(&["status", "--json"]).success();
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        status["servers"][0].clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_from_the_desktop_makes_and_keeps_the_token_on_the_server() {
    let p = Arc::new(pair("login", "").await);
    let _server_daemon = start_daemon(&p.server).await;
    let t = p.clone();
    let login = blocking(move || t.desktop(&["login", "oauth@vps"])).await;
    let stderr = login.stderr();
    assert!(login.status.success(), "{stderr}");
    assert!(stderr.contains("oauth@vps: logged in"), "{stderr}");

    // The server's process exchanged the code, stored the token and wrote its sink.
    let live = p.server.sandbox.live_access_tokens().last().cloned().expect("a token was made");
    let server_log = p.server.log();
    assert!(server_log.contains("control request: login oauth"), "{server_log}");
    assert_eq!(p.server.sandbox.requests_to("/v1/oauth/token").len(), 1, "one exchange, by the server");
    let sink = std::fs::read_to_string(p.server.dir.join("bot.env")).unwrap();
    assert!(sink.contains(&live) && sink.contains("LOG_LEVEL=info"), "the server's sink holds it: {sink}");

    // Nothing of it on the desktop: no file there holds the token.
    for entry in walk(&p.desktop) {
        let text = std::fs::read(&entry).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&text).contains(&live), "{} holds the token", entry.display());
    }
    // ...and `token` there refuses, saying why and what would allow it.
    let t = p.clone();
    let token = blocking(move || t.desktop(&["token", "oauth@vps"])).await;
    assert_eq!(token.status.code(), Some(1), "{}", token.stderr());
    assert!(token.stdout().is_empty(), "no token printed");
    assert!(token.stderr().contains("its token stays there") && token.stderr().contains("copy_token = true"));
    // What hands the token to something here says where to run it instead.
    let t = p.clone();
    let exec = blocking(move || t.desktop(&["exec", "oauth@vps", "--", "true"])).await;
    assert_eq!(exec.status.code(), Some(2), "{}", exec.stderr());
    assert!(exec.stderr().contains("on the server run it for `oauth`"), "{}", exec.stderr());

    // The desktop's status shows it green, as the server's.
    let t = p.clone();
    let shown = blocking(move || t.desktop_account("oauth@vps")).await.expect("the server's account is shown");
    assert_eq!(shown["state"], "valid", "{shown}");
    assert_eq!(shown["level"], "green", "{shown}");
    assert_eq!(shown["remote"]["server"], "vps", "{shown}");
    assert!(shown["label"].as_str().unwrap().contains("@ vps"), "{shown}");

    // Ready is asked of the server: its token, its IP.
    let t = p.clone();
    let ready = blocking(move || t.desktop(&["ready", "oauth@vps", "--json"])).await;
    assert_eq!(ready.status.code(), Some(0), "{}", ready.stderr());
    let all: serde_json::Value = serde_json::from_slice(&ready.stdout).unwrap();
    assert_eq!(all[0]["account"], "oauth@vps", "{all}");
    assert_eq!(all[0]["token"]["outcome"], "ok", "{all}");
    assert!(p.server.log().contains("control request: ready oauth"), "checked on the server");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_opted_in_is_copied_and_a_redirect_not_the_servers_is_refused() {
    let p = Arc::new(pair("copy", "[[remote.account]]\nname = \"kite\"\ncopy_token = true\n").await);
    // The server lets this token leave (its side of the opt-in).
    let server_config = p.server.dir.join("config.toml");
    let text = std::fs::read_to_string(&server_config).unwrap();
    std::fs::write(&server_config, format!("{text}\n[ssh_access]\ntokens = [\"kite\"]\n")).unwrap();
    let _server_daemon = start_daemon(&p.server).await;
    let t = p.clone();
    blocking(move || t.desktop(&["login", "kite@vps"])).await.success();
    let t = p.clone();
    let token = blocking(move || t.desktop(&["token", "kite@vps"])).await.success();
    let live = p.server.sandbox.live_access_tokens().last().cloned().unwrap();
    assert_eq!(token.stdout().trim(), live, "copy_token = true hands it over");

    // A "browser" that brings back forged addresses to the desktop's catcher:
    // another attempt's `state` is refused there; one without a `state` is
    // carried to the server, which refuses it as any callback. Neither is exchanged.
    let said = p.desktop.join("forged.txt");
    let forger = p.desktop.join("forge.py");
    let script = r#"#!/usr/bin/env python3
import sys, urllib.parse, urllib.request, urllib.error
cb = urllib.parse.parse_qs(urllib.parse.urlparse(sys.argv[1]).query)["redirect_uri"][0]
out = []
for q in ["code=forged&state=not-this-login", "code=forged"]:
    try:
        out.append(str(urllib.request.urlopen(cb + "?" + q).status))
    except urllib.error.HTTPError as e:
        out.append(str(e.code) + " " + e.read().decode())
open(OUT, "w").write("\n".join(out))
"#;
    std::fs::write(&forger, script.replace("OUT", &format!("{:?}", said.display().to_string()))).unwrap();
    std::fs::set_permissions(&forger, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let t = p.clone();
    let browser = format!("{} %s", forger.display());
    let out = blocking(move || {
        let mut c = t.desktop_command(&["login", "oauth@vps", "--timeout", "10s"]);
        c.env("BROWSER", browser).stdin(Stdio::null()).output().unwrap()
    })
    .await;
    assert!(!out.status.success(), "no forged address logs in: {}", out.stderr());
    let said = std::fs::read_to_string(&said).expect("the forger ran");
    let mut answers = said.split("\n400").map(str::to_owned);
    let other_attempt = answers.next().unwrap();
    assert!(other_attempt.starts_with("400") && other_attempt.contains("Not this login"), "{said}");
    let unbound = answers.next().expect("a second answer");
    assert!(unbound.contains("Not taken") && unbound.contains("state"), "the server said why: {said}");
    assert!(p.server.sandbox.requests_to("/v1/oauth/token").iter().all(|r| r.form()["code"] != "forged"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_follows_the_server_through_an_outage_without_a_false_login() {
    let p = Arc::new(pair("follow", "").await);
    let _server_daemon = start_daemon(&p.server).await;
    let _desktop_daemon = p.desktop_daemon();
    let t = p.clone();
    blocking(move || t.desktop(&["login", "oauth@vps"])).await.success();
    let t = p.clone();
    blocking(move || {
        wait_until("the server's account followed", Duration::from_secs(20), || {
            t.desktop_account("oauth@vps").is_some_and(|a| a["state"] == "valid")
        })
    })
    .await;

    // The server's notices reach the desktop (its log is the daemon's notifier).
    let t = p.clone();
    blocking(move || t.desktop(&["login", "kite@vps"])).await.success();
    let t = p.clone();
    blocking(move || {
        // Kite's 3-second token dies on the server, which says a login is due.
        wait_until("the server's notice told here", Duration::from_secs(20), || {
            t.desktop_log().lines().any(|l| l.contains("kite @ vps: log in within") && l.contains("WARN"))
        })
    })
    .await;

    // sshd and every session die: unreachable, grey, never "log in".
    let t = p.clone();
    blocking(move || t.sshd.lock().unwrap().kill()).await;
    let t = p.clone();
    blocking(move || {
        wait_until("the server shown unreachable", Duration::from_secs(45), || {
            t.desktop_account("oauth@vps").is_some_and(|a| a["countdown"] == "unreachable")
        })
    })
    .await;
    let shown = p.desktop_account("oauth@vps").unwrap();
    let message = shown["message"].as_str().unwrap();
    assert!(message.starts_with("server unreachable since"), "{message}");
    assert!(shown["remote"]["unreachable_since"].is_string(), "{shown}");
    assert_ne!(shown["state"], "needs_login", "{shown}");
    let out = p.desktop(&["status"]).success().stdout();
    assert!(out.contains("server vps: unreachable since"), "{out}");
    let row = out.lines().find(|l| l.starts_with("oauth@vps")).unwrap();
    assert!(!row.contains("log in"), "never a false login: {row}");
    // Meanwhile the server's daemon keeps the token alive by itself.
    let before = p.server.sandbox.requests_to("/v1/oauth/token").len();
    let t = p.clone();
    blocking(move || {
        wait_until("a renewal on the server alone", Duration::from_secs(20), || {
            t.server.sandbox.requests_to("/v1/oauth/token").len() > before
        })
    })
    .await;

    // sshd back: the desktop reconnects by itself and shows it followed again.
    let t = p.clone();
    blocking(move || t.sshd.lock().unwrap().restart()).await;
    let t = p.clone();
    blocking(move || {
        wait_until("the server followed again", Duration::from_secs(60), || {
            t.desktop_account("oauth@vps").is_some_and(|a| a["countdown"] != "unreachable" && a["state"] == "valid")
        })
    })
    .await;
    assert_eq!(p.desktop_server()["reachable"], true);

    // A revocation at the broker, found by the server: its "login needed"
    // reaches the desktop's notifications and status, as a true one.
    p.server.sandbox.revoke_refresh_tokens();
    p.server.sandbox.expire_access_tokens();
    let t = p.clone();
    let check = blocking(move || t.server.run(&["check", "oauth"], "")).await;
    assert_eq!(check.status.code(), Some(4), "{}", check.stderr());
    let t = p.clone();
    blocking(move || {
        wait_until("the revocation told here", Duration::from_secs(20), || {
            t.desktop_log().lines().any(|l| l.contains("oauth@vps") && l.contains("WARN") && l.contains("login needed"))
        })
    })
    .await;
    let t = p.clone();
    blocking(move || {
        wait_until("the desktop shows the login due", Duration::from_secs(20), || {
            t.desktop_account("oauth@vps").is_some_and(|a| a["state"] == "needs_login")
        })
    })
    .await;
}

/// What `tokentray check oauth@vps` says, with no tray or daemon on the desktop.
fn checked(p: &Pair) -> (Option<i32>, String) {
    let out = p.desktop(&["check", "oauth@vps"]);
    (out.status.code(), out.stderr())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_way_a_server_cannot_be_asked_ends_in_one_clear_message() {
    let p = Arc::new(pair("failures", "").await);

    // No daemon on the server: said, with how to start one.
    let t = p.clone();
    let (code, said) = blocking(move || checked(&t)).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("no TokenTray runs on this server") && said.contains("tokentray daemon"), "{said}");

    let _server_daemon = start_daemon(&p.server).await;
    // An account the server does not have.
    let t = p.clone();
    let out = blocking(move || t.desktop(&["check", "nosuch@vps"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr());
    assert!(out.stderr().contains("server `vps`") && out.stderr().contains("nosuch"), "{}", out.stderr());
    // A server the desktop does not name.
    let t = p.clone();
    let out = blocking(move || t.desktop(&["check", "oauth@elsewhere"])).await;
    assert!(out.stderr().contains("no account `oauth@elsewhere`") && out.stderr().contains("ACCOUNT@vps"));

    // The server's host key changed: refused, never accepted silently.
    let t = p.clone();
    blocking(move || t.sshd.lock().unwrap().change_host_key()).await;
    let t = p.clone();
    let (code, said) = blocking(move || checked(&t)).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("host key is not the one your known_hosts has"), "{said}");
    let known = std::fs::read_to_string(p.server.dir.join("sshd/known_hosts")).unwrap();
    assert_eq!(known.lines().count(), 1, "known_hosts untouched: {known}");

    // The key is refused.
    let t = p.clone();
    blocking(move || {
        let sshd = t.sshd.lock().unwrap();
        sshd.trust_new_host_key();
        sshd.refuse_user_key();
    })
    .await;
    let t = p.clone();
    let (code, said) = blocking(move || checked(&t)).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("refused your SSH key") && said.contains("ssh-copy-id"), "{said}");

    // No tokentray where the config says.
    let t = p.clone();
    blocking(move || t.sshd.lock().unwrap().accept_user_key()).await;
    let config = std::fs::read_to_string(p.desktop.join("config.toml")).unwrap();
    let missing = config.replace(env!("CARGO_BIN_EXE_tokentray"), "/opt/nowhere/tokentray");
    std::fs::write(p.desktop.join("config.toml"), missing).unwrap();
    let t = p.clone();
    let (code, said) = blocking(move || checked(&t)).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("no `/opt/nowhere/tokentray`") && said.contains("tokentray = "), "{said}");

    // A server's tokentray that does not speak the protocol (an old one): `true` says nothing.
    std::fs::write(p.desktop.join("config.toml"), config.replace(env!("CARGO_BIN_EXE_tokentray"), "true")).unwrap();
    let t = p.clone();
    let (code, said) = blocking(move || checked(&t)).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("install the same TokenTray version on both"), "{said}");

    // And nothing unreachable is taken for a login: exit 1, never 4.
    std::fs::write(p.desktop.join("config.toml"), config).unwrap();
    let t = p.clone();
    blocking(move || t.sshd.lock().unwrap().kill()).await;
    let t = p.clone();
    let (code, said) = blocking(move || checked(&t)).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("cannot be reached") && said.contains("Connection refused"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_started_while_its_server_is_down_shows_what_it_last_knew_as_unreachable() {
    let p = Arc::new(pair("restart", "").await);
    let _server_daemon = start_daemon(&p.server).await;
    let t = p.clone();
    let mut first = blocking(move || t.desktop_daemon()).await;
    let t = p.clone();
    blocking(move || t.desktop(&["login", "oauth@vps"])).await.success();
    let t = p.clone();
    blocking(move || {
        wait_until("followed", Duration::from_secs(20), || {
            t.desktop_account("oauth@vps").is_some_and(|a| a["state"] == "valid")
        })
    })
    .await;
    let status = blocking(move || terminate(&mut first)).await;
    assert!(status.success(), "{status:?}");
    assert!(std::fs::read_to_string(p.desktop.join("data/servers.json")).unwrap().contains("\"oauth\""));
    let live = p.server.sandbox.live_access_tokens().last().cloned().unwrap();
    let cached = std::fs::read_to_string(p.desktop.join("data/servers.json")).unwrap();
    assert!(!cached.contains(&live), "what the desktop keeps holds no token");

    // The server goes down; the desktop starts again.
    let t = p.clone();
    blocking(move || t.sshd.lock().unwrap().kill()).await;
    let t = p.clone();
    let _second = blocking(move || t.desktop_daemon_start(2)).await;
    let t = p.clone();
    blocking(move || {
        wait_until("shown unreachable, from what it last knew", Duration::from_secs(30), || {
            t.desktop_account("oauth@vps").is_some_and(|a| {
                a["countdown"] == "unreachable"
                    && a["message"].as_str().is_some_and(|m| m.starts_with("server unreachable since"))
            })
        })
    })
    .await;
    let out = p.desktop(&["status"]).success().stdout();
    let row = out.lines().find(|l| l.starts_with("oauth@vps")).unwrap();
    assert!(row.contains("last known: valid") && !row.contains("log in"), "{row}");
}

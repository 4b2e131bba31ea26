//! What the binary's end-to-end tests share: a sandbox with a Kite and an
//! OAuth2 app, a config and data directory pointing at it, the binary run as
//! a user runs it, and child processes killed even when a test panics.
#![allow(dead_code)]

pub mod cluster;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};
use tokentray_testkit::{free_port, scratch, wait_until};

pub struct Setup {
    pub sandbox: Sandbox,
    pub dir: PathBuf,
    pub api_port: u16,
}

pub async fn setup(name: &str) -> Setup {
    let dir = scratch(&format!("e2e-{name}"));
    let (kite_port, oauth_port, api_port) = (free_port(), free_port(), free_port());
    let kite_redirect = format!("http://127.0.0.1:{kite_port}/cb");
    let oauth_redirect = format!("http://127.0.0.1:{oauth_port}/cb");
    let sandbox = Sandbox::start(SandboxConfig {
        apps: vec![
            App {
                access_ttl: Some(Duration::from_secs(3)),
                ..App::new(ProviderKind::Kite, "kitekey", "kitesecret", &kite_redirect, "AB1234")
            },
            App {
                access_ttl: Some(Duration::from_secs(6)),
                ..App::new(ProviderKind::Schwab, "oauthid", "oauthsecret", &oauth_redirect, "OA1")
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

pub trait Checked {
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
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tokentray"));
        c.args(args)
            .env("TOKENTRAY_CONFIG", self.dir.join("config.toml"))
            .env("TOKENTRAY_DATA_DIR", self.dir.join("data"))
            // The "browser" follows the authorize URL to the callback, as a person's would.
            .env("BROWSER", "curl -s -o /dev/null -L %s")
            .env_remove("TOKENTRAY_LOG");
        c
    }

    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child =
            self.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        child.wait_with_output().unwrap()
    }

    pub fn spawn(&self, args: &[&str]) -> Running {
        // The daemon logs to its file too; an unread pipe would fill and block it.
        Running(self.command(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("data/tokentray.log")).unwrap_or_default()
    }
}

/// A child process that is killed when the test lets go of it, also when
/// the test panics: a failed test leaves no daemon behind.
pub struct Running(pub Child);

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
pub async fn start_daemon(s: &std::sync::Arc<Setup>) -> Running {
    let t = s.clone();
    blocking(move || {
        let daemon = t.spawn(&["daemon"]);
        wait_until("the daemon up", Duration::from_secs(10), || t.log().contains("daemon started"));
        daemon
    })
    .await
}

/// Runs blocking child-process work off the runtime that serves the sandbox.
pub async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    tokio::task::spawn_blocking(f).await.unwrap()
}

pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
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

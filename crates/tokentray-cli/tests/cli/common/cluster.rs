//! Several machines on one Vault: three data directories with their own
//! configs, sharing one OpenBao (a real `bao server -dev` on loopback) and
//! one sandbox broker that rotates refresh tokens. For `vault.rs` and `vault_takeover.rs`
//! and `benches/vault_cluster.rs`.

use super::{blocking, Checked, Running};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokentray_sandbox::{App, Sandbox, SandboxConfig};
use tokentray_testkit::openbao::OpenBao;
use tokentray_testkit::{free_port, scratch, wait_until};

pub struct Cluster {
    pub sandbox: Sandbox,
    pub bao: OpenBao,
    pub machines: Vec<Machine>,
}

pub struct Machine {
    pub name: &'static str,
    pub dir: PathBuf,
    pub vault_token: String,
}

pub const TOKEN_PATH: &str = "/v1/oauth/token";

impl Machine {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tokentray"));
        c.args(args)
            .env("TOKENTRAY_CONFIG", self.dir.join("config.toml"))
            .env("TOKENTRAY_DATA_DIR", self.dir.join("data"))
            .env("VAULT_TOKEN", &self.vault_token)
            .env("BROWSER", "curl -s -o /dev/null -L %s")
            .env_remove("TOKENTRAY_LOG");
        c
    }

    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child =
            self.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        child.wait_with_output().unwrap()
    }

    /// Runs a command in the background, its output unread, killed when dropped.
    pub fn spawn_quiet(&self, args: &[&str]) -> Running {
        Running(self.command(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
    }

    /// Starts the daemon and waits for its readiness line.
    pub fn daemon(&self) -> Running {
        let before = self.log().matches("daemon started").count();
        let daemon = self.spawn_quiet(&["daemon"]);
        wait_until(&format!("daemon {} up", self.name), Duration::from_secs(20), || {
            self.log().matches("daemon started").count() > before
        });
        daemon
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("data/tokentray.log")).unwrap_or_default()
    }

    /// The token the bot's `.env` holds.
    pub fn sink(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join("bot.env")).ok()?;
        text.lines().find_map(|l| l.strip_prefix("SCHWAB_ACCESS_TOKEN=")).map(|v| v.trim_matches('"').to_owned())
    }
}

pub async fn cluster(name: &str, access_ttl: Option<Duration>) -> Arc<Cluster> {
    cluster_of(name, access_ttl, true).await
}

/// A cluster whose broker keeps refresh tokens (Schwab's does, for 7 days):
/// two renewals of one token both work.
pub async fn cluster_keeping_refresh_tokens(name: &str) -> Arc<Cluster> {
    cluster_of(name, None, false).await
}

async fn cluster_of(name: &str, access_ttl: Option<Duration>, rotate_refresh_tokens: bool) -> Arc<Cluster> {
    let oauth_port = free_port();
    let redirect = format!("http://127.0.0.1:{oauth_port}/cb");
    let sandbox = Sandbox::start(SandboxConfig {
        apps: vec![App {
            access_ttl,
            ..App::new(tokentray_sandbox::ProviderKind::Schwab, "oauthid", "oauthsecret", &redirect, "OA1")
        }],
        rotate_refresh_tokens,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let bao = blocking(OpenBao::start).await;
    let base = sandbox.url();
    let mut machines = Vec::new();
    for name_of in ["a", "b", "c"] {
        let dir = scratch(&format!("vault-{name}-{name_of}"));
        let config = format!(
            r#"
storage = "vault"
http_timeout = "2s"

[vault]
address = "{address}"
lease = "6s"
poll = "1s"
local_secrets = "plaintext"

[api]
enabled = false

[[account]]
id = "oauth"
provider = "schwab"
api_key = "oauthid"
redirect_uri = "{redirect}"
api_base = "{base}"

[[account.sink]]
format = "env"
path = "{sink}"
"#,
            address = bao.address,
            sink = dir.join("bot.env").display()
        );
        std::fs::write(dir.join("config.toml"), config).unwrap();
        machines.push(Machine { name: name_of, dir, vault_token: bao.root_token.clone() });
    }
    let c = Arc::new(Cluster { sandbox, bao, machines });
    // The api secret is stored once, in Vault, for every machine.
    let t = c.clone();
    blocking(move || t.machines[0].run(&["secret", "set", "oauth"], "oauthsecret\n").success()).await;
    c
}

impl Cluster {
    pub fn a(&self) -> &Machine {
        &self.machines[0]
    }
    pub fn b(&self) -> &Machine {
        &self.machines[1]
    }
    pub fn c(&self) -> &Machine {
        &self.machines[2]
    }

    /// The refresh grants the broker received, and the refresh token each presented.
    pub fn refresh_calls(&self) -> Vec<String> {
        self.sandbox
            .requests_to(TOKEN_PATH)
            .iter()
            .filter(|r| r.form()["grant_type"] == "refresh_token")
            .map(|r| r.form()["refresh_token"].clone())
            .collect()
    }

    pub fn live(&self) -> String {
        self.sandbox.live_access_tokens().last().unwrap().clone()
    }

    /// What another machine's renewal does: a refresh at the broker with the
    /// record's refresh token, and the new token stored in Vault over it.
    /// Returns the new access token.
    pub async fn renew_as_another_machine(&self) -> String {
        let path = "/v1/secret/data/tokentray/accounts/oauth/tokens";
        let (_, body) = self.bao.get(path);
        let mut record: serde_json::Value = serde_json::from_str(&body).unwrap();
        let version = record["data"]["metadata"]["version"].as_u64().unwrap();
        let data = &mut record["data"]["data"];
        let refresh = data["refresh_token"].as_str().unwrap().to_owned();
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!("{}{TOKEN_PATH}", self.sandbox.url()))
            .basic_auth("oauthid", Some("oauthsecret"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let access = answer["access_token"].as_str().unwrap().to_owned();
        let now = chrono::Utc::now();
        data["access_token"] = access.clone().into();
        data["meta"]["issued_at"] = now.to_rfc3339().into();
        data["meta"]["expires_at"] = (now + chrono::TimeDelta::seconds(1800)).to_rfc3339().into();
        data["stored_by"] = "other-machine/1/x".into();
        data.as_object_mut().unwrap().remove("lease");
        let write = serde_json::json!({ "options": { "cas": version }, "data": data });
        assert_eq!(self.bao.post(path, &write.to_string()).0, 200);
        access
    }

    /// Waits until every machine's sink holds `token`.
    pub fn all_sinks_hold(&self, token: &str, within: Duration) {
        for m in &self.machines {
            wait_until(&format!("machine {}'s sink holds the new token", m.name), within, || {
                m.sink().as_deref() == Some(token)
            });
        }
    }
}

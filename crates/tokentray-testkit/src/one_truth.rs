//! One truth from every door: once a command that changed an account
//! returns, the running TokenTray (the daemon or the tray) answers from it:
//! the CLI's `token` and the local API never say "log in" right after a
//! login, never hand out a token after a logout, and never an old one after
//! a refresh. The daemon's test (tokentray-cli) and the tray's (the app)
//! both run these rounds against every provider the sandbox speaks.

use std::path::{Path, PathBuf};
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};

/// One account per provider, against one sandbox, with its secrets to store.
pub struct Brokers {
    pub sandbox: Sandbox,
    pub dir: PathBuf,
    pub api_port: u16,
    /// Each account's id and provider.
    pub accounts: Vec<(String, ProviderKind)>,
    /// `(account, [flag], secret)`: what `tokentray secret set` stores before anything runs.
    pub secrets: Vec<(String, Option<&'static str>, String)>,
}

impl Brokers {
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// What the user pastes to log `account` in, where its broker shows a
    /// token to copy instead of redirecting (Upstox's analytics token, made
    /// anew in the console for each login).
    pub fn pasted_code(&self, account: &str) -> Option<String> {
        let (_, provider) = self.accounts.iter().find(|(id, _)| id == account)?;
        (*provider == ProviderKind::UpstoxAnalytics)
            .then(|| self.sandbox.make_upstox_analytics_token(&format!("{}-app", provider.as_str())))
    }

    /// The accounts whose tokens renew without the user.
    pub fn renewable(&self) -> impl Iterator<Item = &str> {
        use tokentray_core::provider::Renewal;
        self.accounts.iter().filter(|(_, p)| p.describe().renewal != Renewal::LoginOnly).map(|(id, _)| id.as_str())
    }
}

/// A sandbox with an app for every provider (Kite's with refresh tokens,
/// so that it renews too), loopback redirects, and a config for them in
/// `dir`, with the local API on a port of its own.
pub async fn brokers(dir: &Path) -> Brokers {
    let apps: Vec<App> = tokentray_core::provider::PROVIDERS
        .iter()
        .map(|d| {
            let redirect = format!("http://127.0.0.1:{}/cb", crate::free_port());
            let client = format!("{}-app", d.id);
            App {
                pin: if d.pin { "4321".into() } else { String::new() },
                kite_refresh_token: true,
                ..App::new(d.kind, &client, &format!("{}-secret", d.id), &redirect, "CLIENT01")
            }
        })
        .collect();
    let sandbox = Sandbox::start(SandboxConfig { apps: apps.clone(), ..SandboxConfig::default() }).await.unwrap();
    let api_port = crate::free_port();
    // The product's default timeout: the rounds load two cores with a dozen accounts'
    // logins at once, and a slow answer is not what they test.
    let mut config = format!("storage = \"plaintext\"\nhttp_timeout = \"15s\"\n\n[api]\nport = {api_port}\n");
    let mut accounts = Vec::new();
    let mut secrets = Vec::new();
    for app in &apps {
        let d = app.provider.describe();
        config += &sandbox.account_toml(d.id, app);
        accounts.push((d.id.to_owned(), app.provider));
        if d.secret != tokentray_core::provider::SecretNeed::Never {
            secrets.push((d.id.to_owned(), None, app.client_secret.clone()));
        }
        if d.pin {
            secrets.push((d.id.to_owned(), Some("--pin"), app.pin.clone()));
        }
    }
    std::fs::write(dir.join("config.toml"), config).unwrap();
    Brokers { sandbox, dir: dir.to_owned(), api_port, accounts, secrets }
}

/// How the rounds went; every count but `rounds` must be 0.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub rounds: u32,
    /// `tokentray token` said "log in" (exit 4) right after a login.
    pub exit_4: u32,
    /// The API said 409 ("log in") right after a login.
    pub conflicts: u32,
    /// A token from before the command that replaced it.
    pub stale: u32,
    /// A token handed out after a logout returned.
    pub after_logout: u32,
}

/// Where the rounds knock: the `tokentray` binary with its environment, and the local API.
pub struct Door {
    pub cli: PathBuf,
    pub env: Vec<(String, String)>,
    pub api: String,
    pub api_key: String,
    pub http: reqwest::Client,
}

impl Door {
    /// The door onto `b`'s accounts through the `tokentray` at `cli`, with
    /// `env` besides the config and data directory.
    pub fn new(b: &Brokers, cli: PathBuf, env: &[(&str, &str)]) -> Self {
        let mut all = vec![
            ("TOKENTRAY_CONFIG".to_owned(), b.config_path().display().to_string()),
            ("TOKENTRAY_DATA_DIR".to_owned(), b.data_dir().display().to_string()),
        ];
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Self {
            cli,
            env: all,
            api: format!("http://127.0.0.1:{}", b.api_port),
            api_key: String::new(),
            // The API closes a connection idle for 10 s (its header timeout): a
            // pooled one is never kept that long, or a request could meet its close.
            http: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(5))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Stores every account's secrets with `tokentray secret set`, as a
    /// user would, and reads the local API's key.
    pub async fn store_secrets(&mut self, b: &Brokers) {
        use tokio::io::AsyncWriteExt;
        for (account, flag, secret) in &b.secrets {
            let mut c = tokio::process::Command::new(&self.cli);
            c.args(["secret", "set", account.as_str()]).args(flag.iter()).stdin(std::process::Stdio::piped());
            c.envs(self.env.iter().map(|(k, v)| (k, v))).kill_on_drop(true);
            let mut child = c.spawn().unwrap_or_else(|e| panic!("{} runs: {e}", self.cli.display()));
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(format!("{secret}\n").as_bytes()).await.unwrap();
            drop(stdin);
            assert!(child.wait().await.unwrap().success(), "secret set {account}");
        }
        self.api_key = self.ok(&["api-key"]).await;
    }

    pub async fn run(&self, args: &[&str]) -> std::process::Output {
        let mut c = tokio::process::Command::new(&self.cli);
        c.args(args).stdin(std::process::Stdio::null()).kill_on_drop(true);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.output().await.unwrap_or_else(|e| panic!("{} runs: {e}", self.cli.display()))
    }

    /// `tokentray ARGS` with `line` typed on its standard input (a code the
    /// broker showed), which must succeed.
    pub async fn ok_typing(&self, args: &[&str], line: &str) -> String {
        use tokio::io::AsyncWriteExt;
        let mut c = tokio::process::Command::new(&self.cli);
        c.args(args).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
        c.stderr(std::process::Stdio::piped()).kill_on_drop(true);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        let mut child = c.spawn().unwrap_or_else(|e| panic!("{} runs: {e}", self.cli.display()));
        // Kept open until the command ends: it reads lines while the login runs.
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        let out = child.wait_with_output().await.unwrap();
        drop(stdin);
        assert!(
            out.status.success(),
            "tokentray {}: exit {:?}: {}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `tokentray ARGS`, which must succeed; its standard output.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "tokentray {}: exit {:?}: {}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `tokentray token ACCOUNT`: the token, or `None` (counted) when it says "log in".
    pub async fn token(&self, account: &str, tally: &mut Tally) -> Option<String> {
        let out = self.run(&["token", account]).await;
        match out.status.code() {
            Some(0) => Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
            Some(4) => {
                tally.exit_4 += 1;
                None
            }
            code => panic!("token {account}: exit {code:?}: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }

    /// The API's answer for the account's token: its status, and the token when 200.
    pub async fn api_token(&self, account: &str) -> (u16, Option<String>) {
        let url = format!("{}/v1/accounts/{account}/token", self.api);
        let r = self.http.get(url).bearer_auth(&self.api_key).send().await.expect("the API answers");
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        (status, body["access_token"].as_str().map(str::to_owned))
    }
}

/// Login, `token`, the API, logout, `token`, the API: `rounds` times for
/// `account`, back to back.
pub async fn login_rounds(door: &Door, b: &Brokers, account: &str, rounds: u32) -> Tally {
    let mut tally = Tally::default();
    let mut previous: Option<String> = None;
    for _ in 0..rounds {
        tally.rounds += 1;
        match b.pasted_code(account) {
            Some(code) => door.ok_typing(&["login", account], &code).await,
            None => door.ok(&["login", account]).await,
        };
        let token = door.token(account, &mut tally).await;
        if token.is_some() && token == previous {
            tally.stale += 1;
        }
        match door.api_token(account).await {
            (200, served) => {
                if token.is_some() && served != token {
                    tally.stale += 1;
                }
            }
            (409, _) => tally.conflicts += 1,
            (status, _) => panic!("the API answered {status} for {account} after a login"),
        }
        previous = token;
        door.ok(&["logout", account]).await;
        let out = door.run(&["token", account]).await;
        if out.status.code() != Some(4) {
            tally.after_logout += 1;
        }
        if door.api_token(account).await.0 != 409 {
            tally.after_logout += 1;
        }
    }
    tally
}

/// `tokentray refresh`, then `token`: `rounds` times for a logged-in
/// `account` whose provider renews; each must hand out the renewed token
/// (the same one, where renewal keeps it alive in place: E*TRADE's).
pub async fn refresh_rounds(door: &Door, account: &str, rounds: u32, in_place: bool) -> Tally {
    let mut tally = Tally::default();
    door.ok(&["login", account]).await;
    let mut previous = door.token(account, &mut tally).await;
    for _ in 0..rounds {
        tally.rounds += 1;
        let refreshed = door.run(&["refresh", account]).await;
        match refreshed.status.code() {
            Some(0) => {}
            // "Log in" right after a login: the engine that renews had not taken it.
            Some(4) => tally.exit_4 += 1,
            code => panic!("refresh {account}: exit {code:?}: {}", String::from_utf8_lossy(&refreshed.stderr)),
        }
        let token = door.token(account, &mut tally).await;
        if token.is_some() && (token == previous) != in_place {
            tally.stale += 1;
        }
        if token.is_some() && door.api_token(account).await.1 != token {
            tally.stale += 1;
        }
        previous = token;
    }
    tally
}

/// Runs `rounds` for every account at once (each has its own callback
/// port), and adds up their tallies.
pub async fn for_every<'a, F, Fut>(accounts: impl Iterator<Item = &'a str>, rounds: F) -> Vec<(String, Tally)>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Tally>,
{
    let runs = accounts.map(|id| {
        let run = rounds(id.to_owned());
        async move { (id.to_owned(), run.await) }
    });
    futures_util::future::join_all(runs).await
}

/// The tallies of every account's rounds.
#[derive(Debug)]
pub struct Verdict {
    pub logins: Vec<(String, Tally)>,
    pub refreshes: Vec<(String, Tally)>,
}

/// Runs `logins` login rounds for every account and `refreshes` refresh
/// rounds for each that renews, the accounts at once; prints each tally
/// under `label` (the figures a measurement quotes).
pub async fn every_round(door: &Door, b: &Brokers, logins: u32, refreshes: u32, label: &str) -> Verdict {
    let logins = for_every(b.accounts.iter().map(|(id, _)| id.as_str()), |id| async move {
        login_rounds(door, b, &id, logins).await
    })
    .await;
    let in_place = |id: &str| {
        b.accounts.iter().any(|(a, p)| a == id && p.describe().renewal == tokentray_core::provider::Renewal::InPlace)
    };
    let refreshes =
        for_every(b.renewable(), |id| async move { refresh_rounds(door, &id, refreshes, in_place(&id)).await }).await;
    for (id, tally) in &logins {
        println!("one truth, {label}, logins, {id}: {tally:?}");
    }
    for (id, tally) in &refreshes {
        println!("one truth, {label}, refreshes, {id}: {tally:?}");
    }
    Verdict { logins, refreshes }
}

impl Verdict {
    /// Every round of every provider kind told the truth.
    pub fn assert_one_truth(&self, logins: u32, refreshes: u32) {
        for (id, tally) in &self.logins {
            assert_eq!(*tally, Tally { rounds: logins, ..Tally::default() }, "{id}: {tally:?}");
        }
        assert_eq!(self.logins.len(), tokentray_core::provider::PROVIDERS.len(), "every provider kind");
        for (id, tally) in &self.refreshes {
            assert_eq!(*tally, Tally { rounds: refreshes, ..Tally::default() }, "{id}: {tally:?}");
        }
        assert!(self.refreshes.len() >= 5, "every provider that renews: {:?}", self.refreshes);
    }
}

//! Fyers, Dhan and Angel One through the real binary against the sandbox, as
//! a user runs it: the PIN stored with `secret set --pin`, the login through
//! `$BROWSER`, and each provider's token in `status`, `header` and `exec`.

use crate::common::*;
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};
use tokentray_testkit::{free_port, scratch};

async fn brokers() -> Setup {
    let dir = scratch("e2e-brokers");
    let redirects: Vec<String> = (0..3).map(|_| format!("http://127.0.0.1:{}/cb", free_port())).collect();
    let apps = vec![
        App { pin: "4321".into(), ..App::new(ProviderKind::Fyers, "FY123-100", "fysecret", &redirects[0], "XF0001") },
        App::new(ProviderKind::Dhan, "dhanapp", "dhansecret", &redirects[1], "1100000001"),
        App::new(ProviderKind::AngelOne, "angelkey", "", &redirects[2], "A000001"),
    ];
    let sandbox = Sandbox::start(SandboxConfig { apps: apps.clone(), ..SandboxConfig::default() }).await.unwrap();
    let api_port = free_port();
    let mut config = format!("storage = \"plaintext\"\nhttp_timeout = \"3s\"\n\n[api]\nport = {api_port}\n");
    for (id, app) in ["fyers", "dhan", "angelone"].iter().zip(&apps) {
        config += &sandbox.account_toml(id, app);
    }
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let s = Setup { sandbox, dir, api_port };
    s.run(&["secret", "set", "fyers"], "fysecret\n").success();
    s.run(&["secret", "set", "dhan"], "dhansecret\n").success();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broker_logs_in_and_hands_its_token_over_in_its_own_form() {
    let s = std::sync::Arc::new(brokers().await);
    let t = s.clone();
    let pin = blocking(move || t.run(&["secret", "set", "fyers", "--pin"], "4321\n")).await.success();
    assert!(pin.stderr().contains("stored the PIN for fyers"), "{}", pin.stderr());
    assert!(!pin.stderr().contains("4321"), "the PIN is never shown");
    let stored = std::fs::read_to_string(s.dir.join("data/secrets.json")).unwrap();
    assert!(stored.contains("\"fyers/pin\": \"4321\""), "kept apart from the api secret: {stored}");

    for (id, who) in [("fyers", "XF0001"), ("dhan", "1100000001"), ("angelone", "A000001")] {
        let t = s.clone();
        let login = blocking(move || t.run(&["login", id], "")).await.success();
        assert!(login.stderr().contains(&format!("{id}: logged in as {who}")), "{}", login.stderr());
    }
    let t = s.clone();
    let status = blocking(move || t.run(&["status", "--json"], "")).await.success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    for account in json["accounts"].as_array().unwrap() {
        assert_eq!(account["state"], "valid", "{account}");
        assert_eq!(account["auto_refresh"], true, "each of the three renews: {account}");
    }

    let token = |id: &'static str| {
        let t = s.clone();
        async move { blocking(move || t.run(&["token", id], "")).await.success().stdout().trim().to_owned() }
    };
    let header = |args: &'static [&'static str]| {
        let t = s.clone();
        async move { blocking(move || t.run(args, "")).await.success().stdout().trim().to_owned() }
    };
    let fyers = token("fyers").await;
    assert_eq!(header(&["header", "fyers"]).await, format!("FY123-100:{fyers}"), "Fyers: app_id:token, no scheme");
    let dhan = token("dhan").await;
    assert_eq!(header(&["header", "dhan", "--with-name"]).await, format!("access-token: {dhan}"));
    let angel = token("angelone").await;
    assert_eq!(header(&["header", "angelone", "--with-name"]).await, format!("Authorization: Bearer {angel}"));

    let t = s.clone();
    let script = "echo $FYERS_APP_ID:$FYERS_ACCESS_TOKEN; exit 3";
    let out = blocking(move || t.run(&["exec", "fyers", "--", "sh", "-c", script], "")).await;
    assert_eq!(out.status.code(), Some(3), "exec exits with the command's code");
    assert_eq!(out.stdout().trim(), format!("FY123-100:{fyers}"));
    let t = s.clone();
    let script = "echo $DHAN_CLIENT_ID $DHAN_ACCESS_TOKEN $TOKENTRAY_ACCESS_TOKEN";
    let out = blocking(move || t.run(&["exec", "dhan", "--", "sh", "-c", script], "")).await.success();
    assert_eq!(out.stdout().trim(), format!("1100000001 {dhan} {dhan}"));
    let t = s.clone();
    let script = "test -n \"$ANGELONE_FEED_TOKEN\" && echo $ANGELONE_API_KEY $ANGELONE_ACCESS_TOKEN";
    let out = blocking(move || t.run(&["exec", "angelone", "--", "sh", "-c", script], "")).await.success();
    assert_eq!(out.stdout().trim(), format!("angelkey {angel}"));
}

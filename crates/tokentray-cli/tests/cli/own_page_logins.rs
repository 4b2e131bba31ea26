//! Logins that end on the broker's own page, through the real binary as a
//! user runs it: E*TRADE's code typed, Upstox's analytics token pasted,
//! IBKR's gateway page watched; then what `accounts`, `status` and `header`
//! say of them (read-only, signed, a gateway).

use crate::common::*;
use std::io::Write;
use std::process::Stdio;
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};
use tokentray_testkit::scratch;

async fn setup() -> Setup {
    let dir = scratch("e2e-own-page");
    let apps = vec![
        App::new(ProviderKind::Etrade, "etrade-key", "etrade-secret", "oob", "ET0001"),
        App::new(ProviderKind::UpstoxAnalytics, "upstox-app", "", "oob", "UP0001"),
        App::new(ProviderKind::Ibkr, "ibkr-gateway", "", "", "U0001"),
    ];
    let sandbox = Sandbox::start(SandboxConfig { apps, ..SandboxConfig::default() }).await.unwrap();
    let base = sandbox.url();
    let config = format!(
        "storage = \"plaintext\"\nhttp_timeout = \"3s\"\n\n\
         [[account]]\nid = \"etrade\"\nprovider = \"etrade\"\napi_key = \"etrade-key\"\napi_base = \"{base}\"\nlogin_base = \"{base}\"\n\n\
         [[account]]\nid = \"upstox-data\"\nprovider = \"upstox-analytics\"\napi_base = \"{base}\"\nlogin_base = \"{base}/developer/apps\"\n\n\
         [[account]]\nid = \"ibkr\"\nprovider = \"ibkr\"\napi_base = \"{base}\"\nlogin_base = \"{base}\"\n"
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let s = Setup { sandbox, dir, api_port: tokentray_testkit::free_port() };
    s.run(&["secret", "set", "etrade"], "etrade-secret\n").success();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_code_a_pasted_token_and_a_watched_gateway_each_log_in() {
    let s = std::sync::Arc::new(setup().await);

    // E*TRADE: the page shows a code; the person types it into the terminal.
    let t = s.clone();
    let mut child = blocking(move || {
        Running(
            t.command(&["login", "etrade", "--no-browser"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    })
    .await;
    let mut stderr = child.stderr.take().unwrap();
    let (authorize, said, stderr) = blocking(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 512];
        loop {
            let n = std::io::Read::read(&mut stderr, &mut buf).unwrap();
            assert!(n > 0, "no URL printed: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            // The whole prompt line, not a part of it.
            if seen.lines().any(|l| l.contains("paste here") && l.ends_with(':')) {
                let url = seen.lines().find(|l| l.trim_start().starts_with("http")).expect("the URL").trim().to_owned();
                return (url, seen, stderr);
            }
        }
    })
    .await;
    assert!(said.contains("the code the page shows"), "the prompt says what to type: {said}");
    let page = reqwest::get(&authorize).await.unwrap().text().await.unwrap();
    let code = page.split("id=\"verifier\">").nth(1).and_then(|r| r.split('<').next()).unwrap().to_owned();
    child.stdin.as_mut().unwrap().write_all(format!("{code}\n").as_bytes()).unwrap();
    let status = blocking(move || child.wait().unwrap()).await;
    drop(stderr);
    assert!(status.success());

    // Upstox's analytics token: made in the console, pasted.
    let token = s.sandbox.make_upstox_analytics_token("upstox-app");
    let t = s.clone();
    let login = blocking(move || t.run(&["login", "upstox-data", "--no-browser"], &format!("{token}\n"))).await;
    let login = login.success();
    assert!(login.stderr().contains("upstox-data: logged in"), "{}", login.stderr());

    // IBKR: the gateway's page (the $BROWSER follows it), watched until it says so.
    let t = s.clone();
    let login = blocking(move || t.run(&["login", "ibkr"], "")).await.success();
    assert!(login.stderr().contains("ibkr: logged in"), "{}", login.stderr());

    let t = s.clone();
    let status = blocking(move || t.run(&["status", "--json"], "")).await.success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    for account in json["accounts"].as_array().unwrap() {
        assert_eq!(account["state"], "valid", "{account}");
    }
    let t = s.clone();
    let table = blocking(move || t.run(&["status"], "")).await.success().stdout();
    let line = table.lines().find(|l| l.starts_with("upstox-data")).unwrap();
    assert!(line.contains("read-only: cannot place orders"), "{table}");

    let t = s.clone();
    let accounts = blocking(move || t.run(&["accounts"], "")).await.success().stdout();
    assert!(accounts.contains("READ-ONLY: its token cannot place orders"), "{accounts}");
    assert!(accounts.contains("login: paste the code the page shows"), "E*TRADE without a callback: {accounts}");
    assert!(accounts.contains("(its own login page)"), "IBKR's gateway: {accounts}");

    // E*TRADE signs every request: no header to hand, and the values to use instead.
    let t = s.clone();
    let header = blocking(move || t.run(&["header", "etrade"], "")).await;
    assert_eq!(header.status.code(), Some(2), "{}", header.stderr());
    assert!(header.stderr().contains("ETRADE_OAUTH_TOKEN_SECRET"), "{}", header.stderr());
}

//! `tokentray ready`: the token works, and the machine the bots trade from
//! sends from a static IP its broker registered (Upstox and Dhan let a
//! program read them; Kite does not), against the sandbox's emulation of
//! both brokers' static-IP endpoints and an echo service.

use crate::common::*;
use std::sync::Arc;
use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};
use tokentray_testkit::{free_port, scratch};

/// Upstox, Dhan and Kite accounts, logged in; the echo on when `echo`.
async fn traders(name: &str, echo: bool) -> Arc<Setup> {
    let dir = scratch(&format!("e2e-ready-{name}"));
    let redirects: Vec<String> = (0..3).map(|_| format!("http://127.0.0.1:{}/cb", free_port())).collect();
    let apps = vec![
        App::new(ProviderKind::Upstox, "upstoxapp", "upstoxsecret", &redirects[0], "UP0001"),
        App::new(ProviderKind::Dhan, "dhanapp", "dhansecret", &redirects[1], "1100000001"),
        App::new(ProviderKind::Kite, "kitekey", "kitesecret", &redirects[2], "AB1234"),
    ];
    let sandbox = Sandbox::start(SandboxConfig { apps: apps.clone(), ..SandboxConfig::default() }).await.unwrap();
    let api_port = free_port();
    let mut config = format!("storage = \"plaintext\"\nhttp_timeout = \"3s\"\n\n[api]\nport = {api_port}\n");
    if echo {
        config += &format!("\n[ready]\necho = \"{}\"\n", sandbox.echo_url());
    }
    for (id, app) in ["upstox", "dhan", "kite"].iter().zip(&apps) {
        config += &sandbox.account_toml(id, app);
    }
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let s = Arc::new(Setup { sandbox, dir, api_port });
    let t = s.clone();
    blocking(move || {
        for (id, secret) in [("upstox", "upstoxsecret"), ("dhan", "dhansecret"), ("kite", "kitesecret")] {
            t.run(&["secret", "set", id], &format!("{secret}\n")).success();
            t.run(&["login", id], "").success();
        }
    })
    .await;
    s
}

/// Upstox's `PUT /v2/user/ip`, as its developer console would send it.
async fn change_ip(s: &Setup, token: &str, ip: &str) -> reqwest::Response {
    reqwest::Client::new()
        .put(format!("{}/v2/user/ip", s.sandbox.url()))
        .bearer_auth(token)
        .json(&serde_json::json!({ "primary_ip": ip }))
        .send()
        .await
        .unwrap()
}

fn readiness(out: &std::process::Output) -> Vec<serde_json::Value> {
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout()))
}

fn of<'a>(all: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    all.iter().find(|r| r["account"] == id).unwrap_or_else(|| panic!("{id} in {all:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matching_ip_is_ready_a_mismatch_is_not_and_a_broker_without_an_endpoint_is_not_checked() {
    let s = traders("match", true).await;
    let now = chrono::Utc::now();
    // This machine sends from 203.0.113.7 (the echo says so).
    s.sandbox.set_egress_ip("203.0.113.7");
    s.sandbox.register_static_ip("upstoxapp", "203.0.113.7", Some("2001:db8::7"), now - chrono::Duration::days(30));
    s.sandbox.register_static_ip("dhanapp", "198.51.100.9", None, now - chrono::Duration::days(2));

    let t = s.clone();
    let out = blocking(move || t.run(&["ready", "--json"], "")).await;
    assert_eq!(out.status.code(), Some(1), "one account is not ready, and no login fixes it: {}", out.stderr());
    let all = readiness(&out);

    let upstox = of(&all, "upstox");
    assert_eq!(upstox["ready"], true, "{upstox}");
    assert_eq!(upstox["token"]["outcome"], "ok", "{upstox}");
    assert_eq!(upstox["ip"]["outcome"], "ok", "{upstox}");
    assert_eq!(upstox["ip"]["egress"], "203.0.113.7");
    assert!(upstox["ip"]["change_lock"].as_str().unwrap().contains("one change per calendar week"), "{upstox}");

    let dhan = of(&all, "dhan");
    assert_eq!(dhan["ready"], false, "{dhan}");
    assert_eq!(dhan["ip"]["outcome"], "failed", "{dhan}");
    let message = dhan["ip"]["message"].as_str().unwrap();
    assert!(message.contains("203.0.113.7 is not registered (198.51.100.9)"), "{message}");
    assert!(message.contains("orders from here are refused"), "says what it means: {message}");
    let lock = dhan["ip"]["change_lock"].as_str().unwrap();
    assert!(lock.contains("in 5 days") || lock.contains("in 4 days"), "the weekly lock's time left: {lock}");

    let kite = of(&all, "kite");
    assert_eq!(kite["ready"], true, "{kite}");
    assert_eq!(kite["ip"]["outcome"], "not_checked", "{kite}");
    assert!(kite["ip"]["message"].as_str().unwrap().contains("does not let a program read"), "{kite}");

    // For people: one account, three lines.
    let t = s.clone();
    let out = blocking(move || t.run(&["ready", "dhan"], "")).await;
    assert_eq!(out.status.code(), Some(1));
    let text = out.stdout();
    assert!(text.starts_with("dhan (dhan): NOT READY\n"), "{text}");
    assert!(text.contains("  IP:    NO: this machine's address 203.0.113.7"), "{text}");
    let t = s.clone();
    assert_eq!(blocking(move || t.run(&["ready", "upstox"], "")).await.status.code(), Some(0));

    // An IPv6 egress compares as an address.
    s.sandbox.set_egress_ip("2001:0db8:0000::0007");
    let t = s.clone();
    let out = blocking(move || t.run(&["ready", "upstox", "--json"], "")).await;
    assert_eq!(readiness(&out)[0]["ip"]["outcome"], "ok", "{}", out.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_change_at_upstox_ends_its_tokens_and_ready_asks_for_a_login() {
    let s = traders("change", false).await;
    s.sandbox.register_static_ip("upstoxapp", "203.0.113.7", None, chrono::Utc::now() - chrono::Duration::days(30));
    // Without an echo, the registered IPs are shown but not compared.
    let t = s.clone();
    let out = blocking(move || t.run(&["ready", "upstox", "--json"], "")).await;
    let before = &readiness(&out)[0];
    assert_eq!(before["ready"], true, "{before}");
    assert_eq!(before["ip"]["outcome"], "not_checked", "{before}");
    assert!(before["ip"]["message"].as_str().unwrap().contains("[ready] echo"), "says how to compare: {before}");
    assert_eq!(before["ip"]["registered"][0], "203.0.113.7");

    // The user changes the IP at Upstox (its API, as a console would): its tokens end.
    let token = {
        let t = s.clone();
        blocking(move || t.run(&["token", "upstox"], "")).await.success().stdout().trim().to_owned()
    };
    let changed = change_ip(&s, &token, "198.51.100.20").await;
    assert_eq!(changed.status(), 200);
    let body: serde_json::Value = changed.json().await.unwrap();
    assert_eq!(body["data"]["access_tokens_invalidated"], true);
    // The old token cannot even ask any more.
    let again = change_ip(&s, &token, "198.51.100.21").await;
    assert_eq!(again.status(), 401, "the token is gone already");
    // With a new token, a second change within the week is refused, as Upstox refuses it.
    let t = s.clone();
    blocking(move || t.run(&["login", "upstox"], "")).await.success();
    let t = s.clone();
    let fresh = blocking(move || t.run(&["token", "upstox"], "")).await.success().stdout().trim().to_owned();
    let locked = change_ip(&s, &fresh, "198.51.100.21").await;
    assert_eq!(locked.status(), 400);
    assert!(locked.text().await.unwrap().contains("UDAPI1185"));
    // ...and this login's token is the one `ready` now checks.
    let t = s.clone();
    blocking(move || t.run(&["logout", "upstox"], "")).await.success();

    let t = s.clone();
    let out = blocking(move || t.run(&["ready", "upstox", "--json"], "")).await;
    assert_eq!(out.status.code(), Some(4), "a login makes it ready: {}", out.stderr());
    let after = &readiness(&out)[0];
    assert_eq!(after["token"]["outcome"], "failed", "{after}");
    assert!(after["token"]["message"].as_str().unwrap().contains("log in"), "{after}");
    assert_eq!(after["ip"]["outcome"], "not_checked", "{after}");
}

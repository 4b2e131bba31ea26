//! Several machines, one token: three `tokentray daemon`s with their own
//! data directories share one OpenBao (a real `bao server -dev` on
//! loopback) and one sandbox broker that rotates refresh tokens, so a
//! second renewal of one token would be refused and show.

use crate::common::cluster::{cluster, Cluster, Machine};
use crate::common::{blocking, Checked};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokentray_sandbox::{Endpoint, Fault};
use tokentray_testkit::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_daemons_share_one_token_and_each_renewal_is_one_provider_call() {
    // 8-second tokens: every daemon schedules its renewal at the same moment.
    let c = cluster("share", Some(Duration::from_secs(8))).await;
    let t = c.clone();
    blocking(move || t.a().run(&["login", "oauth"], "").success()).await;
    let t = c.clone();
    let daemons = blocking(move || t.machines.iter().map(Machine::daemon).collect::<Vec<_>>()).await;
    // B and C never logged in: they serve the token from Vault (the first
    // or, on a slow start, its renewal).
    let t = c.clone();
    blocking(move || {
        wait_until("every sink holds the live token", Duration::from_secs(20), || {
            let live = t.live();
            t.machines.iter().all(|m| m.sink().as_deref() == Some(live.as_str()))
        })
    })
    .await;

    // Three rounds of renewals that all three daemons see come due.
    let t = c.clone();
    blocking(move || wait_until("three renewals", Duration::from_secs(40), || t.refresh_calls().len() >= 3)).await;
    let t = c.clone();
    blocking(move || {
        wait_until("the renewals settle", Duration::from_secs(20), || {
            let live = t.live();
            t.machines.iter().all(|m| m.sink().as_deref() == Some(live.as_str()))
        })
    })
    .await;
    let calls = c.refresh_calls();
    let distinct: std::collections::BTreeSet<_> = calls.iter().collect();
    assert_eq!(distinct.len(), calls.len(), "no refresh token was presented twice: {calls:?}");
    for m in &c.machines {
        let log = m.log();
        assert!(!log.contains("invalid_grant") && !log.contains("ERROR"), "machine {}: {log}", m.name);
    }
    let renewers: std::collections::BTreeSet<&str> =
        c.machines.iter().filter(|m| m.log().contains("refreshed")).map(|m| m.name).collect();
    println!("{} renewals, one provider call each; renewed by {renewers:?}", calls.len());

    // Each machine's scripts get the token from their own daemon.
    let t = c.clone();
    let token = blocking(move || t.c().run(&["token", "oauth"], "").success().stdout()).await;
    // Renewals go on meanwhile: the token served is one the broker issued and still takes.
    assert!(c.sandbox.live_access_tokens().iter().any(|t| t == token.trim()), "{token}");
    // Status names the shared store and its token.
    let t = c.clone();
    let status = blocking(move || t.b().run(&["status", "--json"], "").success().stdout()).await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert!(status["storage"].as_str().unwrap().contains("Vault at http://127.0.0.1"), "{status}");
    assert_eq!(status["vault"]["failing"], serde_json::Value::Null, "{status}");
    assert_eq!(status["vault"]["token_ttl"], serde_json::Value::Null, "a root token never expires: {status}");
    drop(daemons);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_on_one_machine_reaches_the_others_and_a_login_anywhere_too() {
    let c = cluster("follow", None).await;
    let t = c.clone();
    blocking(move || t.b().run(&["login", "oauth"], "").success()).await;
    let t = c.clone();
    let daemons = blocking(move || t.machines.iter().map(Machine::daemon).collect::<Vec<_>>()).await;
    // A bot on C run by `exec`, restarted with each new token.
    let seen = c.c().dir.join("tokens-seen.txt");
    let script = format!("echo \"$TOKENTRAY_ACCESS_TOKEN\" >> '{}'; exec sleep 600", seen.display());
    let _bot = c.c().spawn_quiet(&["exec", "oauth", "--restart-on-change", "--", "sh", "-c", &script]);
    let bot_has = |token: String| {
        let seen = seen.clone();
        move || std::fs::read_to_string(&seen).is_ok_and(|t| t.lines().last() == Some(token.as_str()))
    };
    let check = bot_has(c.live());
    blocking(move || wait_until("the bot started with the token", Duration::from_secs(10), check)).await;
    let mut latencies = Vec::new();
    for _ in 0..3 {
        let before = c.refresh_calls().len();
        let t = c.clone();
        let started = Instant::now();
        blocking(move || t.a().run(&["refresh", "oauth"], "").success()).await;
        let live = c.live();
        let t = c.clone();
        blocking(move || {
            wait_until("C's sink", Duration::from_secs(10), || t.c().sink().as_deref() == Some(live.as_str()))
        })
        .await;
        latencies.push(started.elapsed());
        assert_eq!(c.refresh_calls().len(), before + 1, "one provider call per renewal");
    }
    println!("refresh on A to C's sink: {latencies:?}");
    let live = c.live();
    let (t, l) = (c.clone(), live.clone());
    blocking(move || t.all_sinks_hold(&l, Duration::from_secs(10))).await;
    let check = bot_has(live);
    blocking(move || wait_until("the bot restarted with the new token", Duration::from_secs(10), check)).await;

    // A logout on A: the token is dead at the broker, and no machine serves it.
    let t = c.clone();
    blocking(move || t.a().run(&["logout", "oauth"], "").success()).await;
    let t = c.clone();
    blocking(move || {
        wait_until("B follows the logout", Duration::from_secs(10), || {
            t.b().run(&["token", "oauth"], "").status.code() == Some(4)
        })
    })
    .await;
    assert!(c.b().log().contains("another machine logged this account out"), "{}", c.b().log());

    // A login on C (the desktop) reaches the servers.
    let picked = |c: &Cluster| c.a().log().matches("picked up the token another machine stored in Vault").count();
    let before = picked(&c);
    let t = c.clone();
    blocking(move || t.c().run(&["login", "oauth"], "").success()).await;
    let live = c.live();
    let t = c.clone();
    blocking(move || t.all_sinks_hold(&live, Duration::from_secs(10))).await;
    assert!(picked(&c) > before, "A picked C's login up from Vault");
    drop(daemons);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_lease_holder_mid_renewal_loses_no_token() {
    let c = cluster("kill", None).await;
    let t = c.clone();
    blocking(move || t.a().run(&["login", "oauth"], "").success()).await;
    let t = c.clone();
    let mut daemons = blocking(move || t.machines.iter().map(Machine::daemon).collect::<Vec<_>>()).await;
    let first = c.live();

    // A takes the lease and calls the broker, which holds the call; A dies.
    c.sandbox.inject(Endpoint::OAuth2Token, Fault::Held, Some(1));
    let mut asked = c.a().spawn_quiet(&["refresh", "oauth"]);
    c.sandbox.wait_held(1).await;
    let (_, record) = c.bao.get("/v1/secret/data/tokentray/accounts/oauth/tokens");
    assert!(record.contains("\"lease\"") && record.contains("\"fence\":"), "A holds the lease: {record}");
    // Machine A goes down: the command that asked (which would otherwise renew itself) and the daemon.
    asked.kill().unwrap();
    asked.wait().unwrap();
    daemons[0].kill().unwrap();
    daemons[0].wait().unwrap();
    let killed = Instant::now();

    // B is asked to renew: it waits for the dead holder's lease to expire, then renews.
    let t = c.clone();
    let out = blocking(move || t.b().run(&["refresh", "oauth"], "")).await;
    assert!(out.status.success(), "{}", out.stderr());
    let renewed = c.live();
    assert_ne!(renewed, first);
    let t = c.clone();
    let r = renewed.clone();
    blocking(move || wait_until("C's sink", Duration::from_secs(10), || t.c().sink().as_deref() == Some(&r))).await;
    println!("recovery after the lease holder was killed: {:?} (lease 6 s)", killed.elapsed());
    assert!(c.b().log().contains("taking over a lease that expired"), "{}", c.b().log());
    assert_eq!(c.refresh_calls().len(), 2, "the dead holder's call and B's");

    // Nothing was lost: the refresh token B stored still renews, from C.
    let t = c.clone();
    blocking(move || t.c().run(&["refresh", "oauth"], "").success()).await;
    assert_eq!(c.refresh_calls().len(), 3);
    // A comes back and serves the newest token.
    let t = c.clone();
    daemons[0] = blocking(move || t.a().daemon()).await;
    let live = c.live();
    let t = c.clone();
    blocking(move || t.all_sinks_hold(&live, Duration::from_secs(10))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_outage_keeps_serving_the_last_token_and_recovers() {
    let c = cluster("outage", None).await;
    let t = c.clone();
    blocking(move || t.a().run(&["login", "oauth"], "").success()).await;
    let t = c.clone();
    let daemons = blocking(move || [t.a().daemon(), t.b().daemon()]).await;
    let first = c.live();
    let t = c.clone();
    blocking(move || wait_until("B serves", Duration::from_secs(10), || t.b().sink().as_deref() == Some(&first))).await;

    c.bao.pause();
    let t = c.clone();
    let token = blocking(move || t.b().run(&["token", "oauth"], "").success().stdout()).await;
    assert_eq!(token.trim(), c.live(), "the last token is served while Vault is down");
    // A renewal needs the lease: it waits for Vault, and says so (retry, not log in).
    let t = c.clone();
    let out = blocking(move || t.a().run(&["refresh", "oauth"], "")).await;
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr());
    assert!(out.stderr().contains("cannot be reached"), "{}", out.stderr());
    assert_eq!(c.refresh_calls().len(), 0, "no renewal without the lease");
    let t = c.clone();
    let status = blocking(move || t.b().run(&["status"], "").success().stdout()).await;
    assert!(status.contains("vault: Vault at") && status.contains("cannot be reached"), "{status}");
    // B's follower has seen the outage itself (it polls every second), so
    // that its recovery below is one it can tell.
    let t = c.clone();
    blocking(move || {
        wait_until("B sees the outage", Duration::from_secs(30), || t.b().log().contains("cannot be reached"))
    })
    .await;

    c.bao.resume();
    let t = c.clone();
    blocking(move || t.a().run(&["refresh", "oauth"], "").success()).await;
    let live = c.live();
    let t = c.clone();
    blocking(move || wait_until("B follows", Duration::from_secs(70), || t.b().sink().as_deref() == Some(&live))).await;
    let t = c.clone();
    blocking(move || {
        wait_until("B says Vault answers again", Duration::from_secs(10), || {
            t.b().log().contains("Vault answers again")
        })
    })
    .await;
    drop(daemons);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_token_is_renewed_before_it_ends_and_one_that_cannot_be_is_warned_of() {
    let c = cluster("vault-token", None).await;
    let token_of = |body: &str| -> String {
        let (status, answer) = c.bao.post("/v1/auth/token/create", body);
        assert_eq!(status, 200, "{answer}");
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
        v["auth"]["client_token"].as_str().unwrap().to_owned()
    };
    // A token of 6 s that can be renewed: the daemon keeps it alive.
    let short = Arc::new(Machine {
        name: "a",
        dir: c.a().dir.clone(),
        vault_token: token_of(r#"{"ttl":"15s","renewable":true,"policies":["root"]}"#),
    });
    let m = short.clone();
    let daemon = blocking(move || m.daemon()).await;
    let m = short.clone();
    blocking(move || {
        wait_until("two renewals of the Vault token", Duration::from_secs(60), || {
            m.log().matches("renewed the Vault token").count() >= 2
        })
    })
    .await;
    let m = short.clone();
    let status = blocking(move || m.run(&["status", "--json"], "").success().stdout()).await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["vault"]["failing"], serde_json::Value::Null, "alive past its first 6 s: {status}");
    assert_eq!(status["vault"]["token_renewable"], true, "{status}");
    drop(daemon);

    // A token that cannot be renewed and ends within a day is warned of.
    let dying = Machine {
        name: "b",
        dir: c.b().dir.clone(),
        vault_token: token_of(r#"{"ttl":"2h","renewable":false,"policies":["root"]}"#),
    };
    let out = blocking(move || dying.run(&["status"], "").success().stdout()).await;
    assert!(out.contains("WARNING: the Vault token ends in ") && out.contains("cannot be renewed"), "{out}");
    // A renewable one whose max ttl ends within a day, too: renewals cannot pass it.
    let capped = Machine {
        name: "c",
        dir: c.c().dir.clone(),
        vault_token: token_of(r#"{"ttl":"1h","explicit_max_ttl":"3h","renewable":true,"policies":["root"]}"#),
    };
    let out = blocking(move || capped.run(&["status"], "").success().stdout()).await;
    assert!(out.contains("WARNING: the Vault token ends in "), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_that_fails_on_one_machine_is_not_tried_again_by_the_others() {
    let c = cluster("failed", None).await;
    let t = c.clone();
    blocking(move || t.a().run(&["login", "oauth"], "").success()).await;
    let t = c.clone();
    let daemons = blocking(move || [t.a().daemon(), t.b().daemon()]).await;

    // The broker fails A's renewal while B waits for A's lease: B takes A's answer.
    c.sandbox.inject(Endpoint::OAuth2Token, Fault::HeldThenStatus { code: 503 }, Some(1));
    let t = c.clone();
    let on_a = std::thread::spawn(move || t.a().run(&["refresh", "oauth"], ""));
    c.sandbox.wait_held(1).await;
    let t = c.clone();
    let on_b = std::thread::spawn(move || t.b().run(&["refresh", "oauth"], ""));
    let t = c.clone();
    blocking(move || {
        wait_until("B waits for A's lease", Duration::from_secs(10), || t.b().log().contains("waiting for it"))
    })
    .await;
    c.sandbox.release_held();
    let (a, b) = blocking(move || (on_a.join().unwrap(), on_b.join().unwrap())).await;
    assert_eq!(a.status.code(), Some(1), "an outage: retry ({})", a.stderr());
    assert_eq!(b.status.code(), Some(1), "{}", b.stderr());
    assert!(b.stderr().contains("the renewal on") && b.stderr().contains("failed"), "{}", b.stderr());
    assert_eq!(c.refresh_calls().len(), 1, "one call to the broker for both");
    // The daemons would retry the outage on their own schedule: what follows
    // is one-shot commands only, so the count below is theirs.
    drop(daemons);

    // Wrong credentials, refused on A: B does not send them again at once.
    let t = c.clone();
    blocking(move || t.a().run(&["secret", "set", "oauth"], "not-the-secret\n").success()).await;
    let t = c.clone();
    let a = blocking(move || t.a().run(&["refresh", "oauth"], "")).await;
    assert_eq!(a.status.code(), Some(5), "{}", a.stderr());
    let t = c.clone();
    let b = blocking(move || t.b().run(&["refresh", "oauth"], "")).await;
    assert_eq!(b.status.code(), Some(5), "B is told to fix the secret too: {}", b.stderr());
    assert!(b.stderr().contains("the renewal on"), "{}", b.stderr());
    assert_eq!(c.refresh_calls().len(), 2);
    let (_, record) = c.bao.get("/v1/secret/data/tokentray/accounts/oauth/tokens");
    assert!(record.contains("\"refusals\":1") && record.contains("\"failed\""), "{record}");
    // The right secret, stored from any machine, starts every machine's count again.
    let t = c.clone();
    blocking(move || t.a().run(&["secret", "set", "oauth"], "oauthsecret\n").success()).await;
    let (_, record) = c.bao.get("/v1/secret/data/tokentray/accounts/oauth/tokens");
    assert!(record.contains("\"refusals\":0") && !record.contains("\"failed\""), "{record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_vault_does_not_hold_is_not_shown_and_a_policy_gap_is_named() {
    let c = cluster("gaps", None).await;
    let t = c.clone();
    blocking(move || t.a().run(&["login", "oauth"], "").success()).await;
    // The record goes (as after a switch from the keyring, whose tokens stay
    // there): this machine's state file still says "valid".
    assert_eq!(c.bao.request("DELETE", "/v1/secret/metadata/tokentray/accounts/oauth/tokens", None).0, 204);
    let t = c.clone();
    let out = blocking(move || t.a().run(&["token", "oauth"], "")).await;
    assert_eq!(out.status.code(), Some(4), "log in, not a stale token: {}", out.stderr());
    let t = c.clone();
    let status = blocking(move || t.a().run(&["status", "--json"], "").success().stdout()).await;
    assert!(status.contains("\"state\": \"no_token\""), "{status}");

    // A hostile record: a lease and a failure dated in year 262142. No panic;
    // the lease binds for one lease of this machine's clock, then A renews.
    let t = c.clone();
    blocking(move || t.a().run(&["login", "oauth"], "").success()).await;
    let path = "/v1/secret/data/tokentray/accounts/oauth/tokens";
    let (_, body) = c.bao.get(path);
    let mut record: serde_json::Value = serde_json::from_str(&body).unwrap();
    let version = record["data"]["metadata"]["version"].as_u64().unwrap();
    let data = &mut record["data"]["data"];
    let far = "+262142-12-31T23:59:59Z";
    // (Vault keeps JSON numbers as doubles: the largest exact one.)
    let fence = (1u64 << 53) - 1;
    data["lease"] = serde_json::json!({ "holder": "x\u{1b}[31m/1/x", "fence": fence, "expires_at": far });
    data["fence"] = fence.into();
    data["failed"] = serde_json::json!({ "by": "y", "fence": 1, "class": "transient", "message": "m", "at": far });
    let write = serde_json::json!({ "options": { "cas": version }, "data": data });
    assert_eq!(c.bao.post(path, &write.to_string()).0, 200);
    let t = c.clone();
    let started = Instant::now();
    let out = blocking(move || t.a().run(&["refresh", "oauth"], "")).await;
    assert!(out.status.success(), "{}", out.stderr());
    assert!(started.elapsed() >= Duration::from_secs(6), "the far lease bound for one lease: {:?}", started.elapsed());
    assert!(!c.a().log().contains('\u{1b}'), "another machine's text reaches no log raw");

    // A Vault token whose policy does not reach the records: status says so.
    let (code, answer) = c.bao.post("/v1/auth/token/create", r#"{"policies":["default"]}"#);
    assert_eq!(code, 200, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let weak = Machine {
        name: "b",
        dir: c.b().dir.clone(),
        vault_token: v["auth"]["client_token"].as_str().unwrap().to_owned(),
    };
    let out = blocking(move || weak.run(&["status"], "").success().stdout()).await;
    assert!(out.contains("Vault refused access") && out.contains("secret/data/tokentray/*"), "{out}");
}

//! Several machines, one token, when a lease is taken over while its
//! holder still renews: the broker keeps refresh tokens here, so both
//! renewals work, and what Vault stores is decided by lineage.

use crate::common::cluster::{cluster, cluster_keeping_refresh_tokens, Cluster, Machine};
use crate::common::{blocking, Checked};
use std::sync::Arc;
use std::time::Duration;
use tokentray_sandbox::{Endpoint, Fault};
use tokentray_testkit::wait_until;

/// Holds A's renewal at the broker, then has "another machine" take its
/// lease over in Vault (as it would once A's lease expired).
async fn renewal_taken_over(c: &Arc<Cluster>) -> std::thread::JoinHandle<std::process::Output> {
    c.sandbox.inject(Endpoint::OAuth2Token, Fault::Held, Some(1));
    let t = c.clone();
    let asked = std::thread::spawn(move || t.a().run(&["refresh", "oauth"], ""));
    c.sandbox.wait_held(1).await;
    let path = "/v1/secret/data/tokentray/accounts/oauth/tokens";
    let (_, body) = c.bao.get(path);
    let mut record: serde_json::Value = serde_json::from_str(&body).unwrap();
    let version = record["data"]["metadata"]["version"].as_u64().unwrap();
    let data = &mut record["data"]["data"];
    let fence = data["fence"].as_u64().unwrap() + 1;
    data["fence"] = fence.into();
    data["lease"] = serde_json::json!({
        "holder": "other-machine/1/x", "fence": fence,
        "expires_at": (chrono::Utc::now() + chrono::TimeDelta::seconds(60)).to_rfc3339(),
    });
    let write = serde_json::json!({ "options": { "cas": version }, "data": data });
    assert_eq!(c.bao.post(path, &write.to_string()).0, 200);
    asked
}

fn journal_entries(m: &Machine) -> usize {
    std::fs::read_dir(m.dir.join("data/journal")).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_whose_lease_was_taken_over_is_refused_when_a_newer_token_was_stored() {
    let c = cluster_keeping_refresh_tokens("fence").await;
    let t = c.clone();
    blocking(move || t.a().run(&["login", "oauth"], "").success()).await;
    let t = c.clone();
    let daemon = blocking(move || t.a().daemon()).await;
    let asked = renewal_taken_over(&c).await;
    // The new holder renews (the broker keeps refresh tokens here, so both
    // renewals work) and stores its token first.
    let winner = c.renew_as_another_machine().await;
    // A's broker call answers: its token is refused in Vault, and A serves the winner's.
    c.sandbox.release_held();
    let out = blocking(move || asked.join().unwrap()).await;
    assert!(out.status.success(), "{}", out.stderr());
    assert!(
        c.a().log().contains("another machine stored a token after the one this renewal replaced"),
        "{}",
        c.a().log()
    );
    let (_, body) = c.bao.get("/v1/secret/data/tokentray/accounts/oauth/tokens");
    assert!(body.contains(&winner), "Vault keeps the winner's token: {body}");
    let t = c.clone();
    blocking(move || {
        wait_until("A serves the winner's token", Duration::from_secs(10), || t.a().sink().as_deref() == Some(&winner))
    })
    .await;
    assert_eq!(journal_entries(c.a()), 0, "the refused grant's journal record is done with");
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_whose_lease_was_taken_over_is_kept_when_the_new_holder_stores_nothing() {
    let c = cluster("fence-kept", None).await;
    let t = c.clone();
    blocking(move || t.a().run(&["login", "oauth"], "").success()).await;
    let t = c.clone();
    let daemon = blocking(move || t.a().daemon()).await;
    let first = c.live();
    let asked = renewal_taken_over(&c).await;
    // The broker answered A (and spent the old refresh token): the new holder
    // stores nothing within its lease, so A's token must not be forgotten.
    c.sandbox.release_held();
    let out = blocking(move || asked.join().unwrap()).await;
    assert!(out.status.success(), "{}", out.stderr());
    let renewed = c.live();
    assert_ne!(renewed, first);
    assert!(c.a().log().contains("a stale fencing number"), "{}", c.a().log());
    let (_, body) = c.bao.get("/v1/secret/data/tokentray/accounts/oauth/tokens");
    assert!(body.contains(&renewed), "Vault holds A's renewal: {body}");
    assert_eq!(journal_entries(c.a()), 0);
    // B, starting now, serves it, and renews with its refresh token.
    let t = c.clone();
    let b = blocking(move || t.b().daemon()).await;
    assert_eq!(c.b().sink().as_deref(), Some(renewed.as_str()));
    let t = c.clone();
    blocking(move || t.b().run(&["refresh", "oauth"], "").success()).await;
    drop((daemon, b));
}

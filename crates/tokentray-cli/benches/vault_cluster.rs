//! Several machines, one token: three `tokentray daemon`s with their own
//! data directories on one OpenBao (`bao server -dev` on loopback) and one
//! sandbox broker that rotates refresh tokens. Prints:
//!
//! 1. From a renewal asked of daemon A (`tokentray refresh` handed to it)
//!    to daemon C's sink holding the new token, 100 times (each round
//!    starting at another point of C's 1 s poll), p50 and p99; the
//!    baseline is A's own sink in the same rounds.
//! 2. Renewals that all three daemons see come due at once (4-second
//!    tokens), until 100 were made: provider calls per renewal, and
//!    whether any refresh token was presented twice (the broker would
//!    refuse the second).
//! 3. Killing the lease holder (SIGKILL, with the command that asked it)
//!    while the broker holds its call: the time until another daemon has
//!    renewed and C's sink holds the token, 5 times (lease 6 s).
//!
//! `cargo bench -p tokentray-cli --bench vault_cluster` (about 6 minutes).

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

#[path = "../tests/cli/common/mod.rs"]
mod common;

use common::cluster::{cluster, Cluster};
use common::{blocking, Checked, Running};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokentray_sandbox::{Endpoint, Fault};
use tokentray_testkit::wait_until;

const ROUNDS: usize = 100;
const KILLS: usize = 5;

fn percentile(samples: &[Duration], q: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort();
    s[((s.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3
}

async fn start_all(c: &Arc<Cluster>) -> Vec<Running> {
    let t = c.clone();
    blocking(move || t.a().run(&["login", "oauth"], "").success()).await;
    let t = c.clone();
    let daemons = blocking(move || t.machines.iter().map(|m| m.daemon()).collect::<Vec<_>>()).await;
    let (t, live) = (c.clone(), c.live());
    blocking(move || t.all_sinks_hold(&live, Duration::from_secs(20))).await;
    daemons
}

async fn propagation() {
    let c = cluster("bench-follow", None).await;
    let daemons = start_all(&c).await;
    let (mut own, mut other) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let before = c.refresh_calls().len();
        let t = c.clone();
        let (a_sink, c_sink) = blocking(move || {
            // Each round starts at another point of C's poll interval, spread
            // evenly over it (a round starting just after C looked would
            // otherwise always wait a whole interval).
            std::thread::sleep(Duration::from_millis((round as u64 * 37 % 100) * 10));
            let started = Instant::now();
            t.a().run(&["refresh", "oauth"], "").success();
            let live = t.live();
            let (mut a_at, mut c_at) = (None, None);
            while a_at.is_none() || c_at.is_none() {
                if a_at.is_none() && t.a().sink().as_deref() == Some(live.as_str()) {
                    a_at = Some(started.elapsed());
                }
                if c_at.is_none() && t.c().sink().as_deref() == Some(live.as_str()) {
                    c_at = Some(started.elapsed());
                }
                assert!(started.elapsed() < Duration::from_secs(30), "C never got the token");
                std::thread::sleep(Duration::from_millis(2));
            }
            (a_at.unwrap(), c_at.unwrap())
        })
        .await;
        assert_eq!(c.refresh_calls().len(), before + 1, "one provider call per renewal");
        own.push(a_sink);
        other.push(c_sink);
    }
    let (p50, p99) = (percentile(&other, 0.5), percentile(&other, 0.99));
    let (b50, b99) = (percentile(&own, 0.5), percentile(&own, 0.99));
    println!("renewal asked of A, {ROUNDS} rounds (poll 1 s), from the request:");
    println!("  to C's sink written: p50 {p50:.1} ms, p99 {p99:.1} ms");
    println!("  to A's own sink (baseline): p50 {b50:.1} ms, p99 {b99:.1} ms; C/A at p50 {:.2}x", p50 / b50);
    drop(daemons);
}

async fn racing_renewals() {
    let c = cluster("bench-race", Some(Duration::from_secs(4))).await;
    let daemons = start_all(&c).await;
    let started = Instant::now();
    let t = c.clone();
    blocking(move || wait_until("100 renewals", Duration::from_secs(900), || t.refresh_calls().len() >= ROUNDS)).await;
    let elapsed = started.elapsed();
    drop(daemons);
    let calls = c.refresh_calls();
    let distinct: std::collections::BTreeSet<&String> = calls.iter().collect();
    let refused: usize = c.machines.iter().map(|m| m.log().matches("invalid_grant").count()).sum();
    let by: Vec<(&str, usize)> = c.machines.iter().map(|m| (m.name, m.log().matches(" refreshed").count())).collect();
    println!("renewals all three daemons saw come due (4 s tokens), {:.0} s:", elapsed.as_secs_f64());
    println!(
        "  {} provider calls, {} refresh tokens presented (each once: {}), {} refused; renewed by {by:?}",
        calls.len(),
        distinct.len(),
        distinct.len() == calls.len(),
        refused
    );
}

async fn holder_killed() {
    let c = cluster("bench-kill", None).await;
    let mut daemons = start_all(&c).await;
    let mut recoveries = Vec::new();
    for round in 0..KILLS {
        c.sandbox.inject(Endpoint::OAuth2Token, Fault::Held, Some(1));
        let mut asked = c.a().spawn_quiet(&["refresh", "oauth"]);
        // Held calls are counted in all; the dead holders' calls stay held.
        c.sandbox.wait_held(round as u32 + 1).await;
        let t = c.clone();
        let killed = blocking(move || {
            asked.kill().unwrap();
            asked.wait().unwrap();
            let a = &mut daemons[0];
            a.kill().unwrap();
            a.wait().unwrap();
            let killed = Instant::now();
            t.b().run(&["refresh", "oauth"], "").success();
            let live = t.live();
            wait_until("C's sink", Duration::from_secs(30), || t.c().sink().as_deref() == Some(live.as_str()));
            let took = killed.elapsed();
            daemons[0] = t.a().daemon();
            (took, daemons)
        })
        .await;
        recoveries.push(killed.0);
        daemons = killed.1;
        c.sandbox.clear_faults();
    }
    println!("lease holder killed mid-renewal, {KILLS} times (lease 6 s), until C's sink holds the new token:");
    println!(
        "  median {:.2} s, min {:.2} s, max {:.2} s",
        percentile(&recoveries, 0.5) / 1e3,
        percentile(&recoveries, 0.0) / 1e3,
        percentile(&recoveries, 1.0) / 1e3
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    propagation().await;
    racing_renewals().await;
    holder_killed().await;
}

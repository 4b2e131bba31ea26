//! One scheduler tick over many accounts: poll every lifecycle, then find the
//! earliest wake-up. Prints the median of repeated runs and the memory each
//! account's lifecycle takes.
//!
//! `cargo bench -p tokentray-core --bench tick` (release). The figure that
//! matters is the time for 10,000 accounts; the 1,000-account run is the
//! baseline in the same process, so the ratio shows whether the tick scales
//! linearly whatever the machine's noise.

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::Instant as Clock;
use tokentray_core::expiry::{ist_datetime, KITE_CUTOFF};
use tokentray_core::{Event, Lifecycle, Policy, Refreshability, Span, TokenMeta};

fn accounts(n: usize) -> Vec<Lifecycle> {
    let start = ist_datetime(2026, 11, 26, 9, 0);
    (0..n)
        .map(|i| {
            let policy = Policy { cutoff: (i % 2 == 0).then_some(KITE_CUTOFF), ..Policy::default() };
            let mut lc = Lifecycle::new(&format!("account-{i}"), policy);
            let issued = start + Span::seconds(i as i64 % 3_600);
            let meta = if i % 2 == 0 {
                TokenMeta {
                    issued_at: issued,
                    expires_at: KITE_CUTOFF.next_after(issued),
                    login_at: issued,
                    refresh: Refreshability::NotRefreshable,
                }
            } else {
                TokenMeta {
                    issued_at: issued,
                    expires_at: issued + Span::minutes(30),
                    login_at: issued,
                    refresh: Refreshability::Until(issued + Span::days(7)),
                }
            };
            lc.handle(Event::LoggedIn(meta), issued, &mut Vec::new());
            lc
        })
        .collect()
}

fn median_tick_micros(n: usize, rounds: usize) -> f64 {
    let base = accounts(n);
    let now = ist_datetime(2026, 11, 26, 10, 0);
    let mut samples = Vec::with_capacity(rounds);
    let mut out = Vec::with_capacity(64);
    for _ in 0..rounds {
        let mut lcs = base.clone();
        let t = Clock::now();
        let mut earliest = None;
        for lc in &mut lcs {
            out.clear();
            lc.poll(now, &mut out);
            black_box(&out);
            if let Some(wake) = lc.next_wake(now) {
                earliest = Some(earliest.map_or(wake, |e: tokentray_core::Instant| e.min(wake)));
            }
        }
        samples.push(t.elapsed().as_secs_f64() * 1e6);
        black_box(earliest);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let baseline = median_tick_micros(1_000, 101);
    let full = median_tick_micros(10_000, 101);
    println!("tick over 1,000 accounts:  median {baseline:>9.1} µs");
    println!(
        "tick over 10,000 accounts: median {full:>9.1} µs  ({:.2} ms; ratio to 1,000: {:.1}x)",
        full / 1e3,
        full / baseline
    );
    println!("memory per account: {} bytes (Lifecycle, inline; no heap)", std::mem::size_of::<Lifecycle>());
}

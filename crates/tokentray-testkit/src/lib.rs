//! What TokenTray's tests share, so each rule is written once: a scratch
//! directory per test, a loopback port no other test process is handed,
//! waiting for a condition that another task or process reaches (polling
//! with a deadline, never a fixed sleep standing in for the event), fuzzing
//! a parser, a real OpenBao server (`openbao.rs`), and the one-truth rounds
//! the daemon's and the tray's tests run (`one_truth.rs`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A fresh, empty directory for one test: `tokentray-<name>-<pid>` in the
/// temporary directory, emptied first in case a killed run left it behind.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tokentray-{name}-{}", std::process::id()));
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot empty {}: {e}", dir.display()),
    }
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Where [`free_port`] looks: below Linux's ephemeral range (32768 and up),
/// from which every outgoing connection takes its local port. A port handed
/// out from that range can be taken by a test's own HTTP client before the
/// server that was meant to have it binds.
const PORTS: std::ops::Range<u32> = 20_000..32_000;

/// A loopback port nobody listens on right now, that no outgoing
/// connection will take, and that no other test process is handed: test
/// processes run side by side (one per test under nextest), each walking
/// the range from its own place, and a port is theirs once they have
/// reserved it in a file of the machine's temporary directory
/// ([`reserve`]). Never handed out twice.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = PORTS.end - PORTS.start;
    let start = std::process::id().wrapping_mul(2_654_435_761) % span;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < span, "no free loopback port left in {PORTS:?}");
        let port = (PORTS.start + (start + n) % span) as u16;
        if reserve(port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Claims `port` for this process, across processes: a file named after
/// it holds the owner's pid, created only if absent. A reservation whose
/// process is gone (a run killed half-way) is taken over.
fn reserve(port: u16) -> bool {
    let dir = std::env::temp_dir().join("tokentray-test-ports");
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(port.to_string());
    let mine = std::process::id().to_string();
    for _ in 0..2 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&file) {
            Ok(mut f) => {
                use std::io::Write;
                return f.write_all(mine.as_bytes()).is_ok();
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let owner = std::fs::read_to_string(&file).ok().and_then(|p| p.trim().parse::<u32>().ok());
                match owner {
                    Some(pid) if pid.to_string() == mine => return false,
                    Some(pid) if alive(pid) => return false,
                    // Its owner is gone (or it was never written whole): take it over.
                    _ => {
                        let _ = std::fs::remove_file(&file);
                    }
                }
            }
            Err(_) => return false,
        }
    }
    false
}

fn alive(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    return std::path::Path::new("/proc").join(pid.to_string()).exists();
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        true
    }
}

/// How long [`eventually`] waits before it fails the test.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Blocks until `check` holds, polling; fails the test after `timeout`.
/// For blocking test code (child processes, files).
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for: {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Waits for `check` to hold, polling on the tokio timer; fails the test
/// after [`PATIENCE`]. For state another task reaches.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// [`eventually`] for a condition that must itself be awaited (an HTTP answer).
pub async fn eventually_async<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// How many cases each fuzz test tries: `TOKENTRAY_FUZZ_CASES`, else 1,000
/// (the regular suite). `scripts/bench.sh` runs them with 100,000.
pub fn fuzz_cases() -> u32 {
    std::env::var("TOKENTRAY_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000)
}

/// The regular suite draws the same cases on every run, so that it passes or
/// fails on the code and not on the dice; a run given `TOKENTRAY_FUZZ_CASES`
/// is exploring, and draws new ones each time.
fn fuzz_seed() -> proptest::test_runner::RngSeed {
    use proptest::test_runner::RngSeed;
    match std::env::var_os("TOKENTRAY_FUZZ_CASES") {
        Some(_) => RngSeed::Random,
        None => RngSeed::Fixed(0x6675_7a7a_7365_6564),
    }
}

/// Feeds `fuzz_cases()` values of `strategy` to `check`, which returns
/// whether the input was refused (an error with a message) rather than
/// accepted. A panic anywhere fails the test with the smallest input that
/// panics. Prints the tally: `fuzz NAME: N cases, 0 panics, R refused`.
pub fn fuzz<S>(name: &str, strategy: S, check: impl Fn(S::Value) -> bool)
where
    S: proptest::strategy::Strategy,
    S::Value: std::fmt::Debug,
{
    use std::sync::atomic::{AtomicU64, Ordering};
    let cases = fuzz_cases();
    let config =
        proptest::test_runner::Config { cases, failure_persistence: None, rng_seed: fuzz_seed(), ..Default::default() };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let refused = AtomicU64::new(0);
    runner
        .run(&strategy, |value| {
            if check(value) {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("fuzz {name}: {e}"));
    println!("fuzz {name}: {cases} cases, 0 panics, {} refused with a message", refused.into_inner());
}

pub mod one_truth;
pub mod openbao;

/// A child process killed and reaped when dropped: a test that fails half-way
/// leaves nothing running.
pub struct KilledOnDrop(pub std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_directories_start_empty() {
        let dir = scratch("testkit-self");
        std::fs::write(dir.join("left-behind"), "x").unwrap();
        let again = scratch("testkit-self");
        assert_eq!(again, dir);
        assert_eq!(std::fs::read_dir(&again).unwrap().count(), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_free_port_can_be_bound() {
        std::net::TcpListener::bind(("127.0.0.1", free_port())).unwrap();
        let (a, b) = (free_port(), free_port());
        assert_ne!(a, b, "a port is handed out once");
        assert!(a < 32_768 && b < 32_768, "outside the ephemeral range: {a}, {b}");
    }

    #[test]
    #[should_panic(expected = "timed out")]
    fn waiting_for_what_never_happens_fails() {
        wait_until("nothing", Duration::from_millis(50), || false);
    }
}

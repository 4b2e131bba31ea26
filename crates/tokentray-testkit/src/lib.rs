//! What TokenTray's tests share, so each rule is written once: a scratch
//! directory per test, a loopback port no other test process is handed,
//! waiting for a condition that another task or process reaches (polling
//! with a deadline, never a fixed sleep standing in for the event), fuzzing
//! a parser, a real OpenBao server (`openbao.rs`), a real OpenSSH server
//! (`sshd.rs`), and the one-truth rounds
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
/// locked a file named after it in the user's temporary directory
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

/// Claims `port` for this process, across processes: an exclusive lock on
/// a file named after it, held until the process ends (the kernel releases
/// it then, however the process ends; no pid to read or to outlive).
fn reserve(port: u16) -> bool {
    static HELD: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(reservations);
    let Ok(file) =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(port.to_string()))
    else {
        return false;
    };
    if file.try_lock().is_err() {
        return false;
    }
    HELD.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(file);
    true
}

/// This user's directory of port reservations, private to them: another
/// user of the machine can neither take the ports nor plant files there.
fn reservations() -> PathBuf {
    // The process's own uid (on Linux; elsewhere the login name).
    #[cfg(target_os = "linux")]
    let user = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()).to_string();
    #[cfg(not(target_os = "linux"))]
    let user = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("tokentray-test-ports-{user}"));
    #[cfg(unix)]
    let builder = {
        let mut builder = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
    };
    #[cfg(not(unix))]
    let builder = std::fs::DirBuilder::new();
    if let Err(e) = builder.create(&dir) {
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "cannot create {}: {e}", dir.display());
    }
    let meta = std::fs::symlink_metadata(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    assert!(meta.is_dir(), "{} is not a directory (a link?): remove it", dir.display());
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        assert!(
            meta.uid().to_string() == user && meta.permissions().mode() & 0o077 == 0,
            "{} is another user's or open to others: remove it",
            dir.display()
        );
    }
    dir
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
#[cfg(unix)]
pub mod sshd;

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
    fn a_reserved_port_is_not_handed_out_again() {
        let port = free_port();
        assert!(!reserve(port), "held by this process already");
        let ports: std::collections::BTreeSet<u16> = (0..50).map(|_| free_port()).collect();
        assert_eq!(ports.len(), 50);
        assert!(!ports.contains(&port));
    }

    #[test]
    #[should_panic(expected = "timed out")]
    fn waiting_for_what_never_happens_fails() {
        wait_until("nothing", Duration::from_millis(50), || false);
    }
}

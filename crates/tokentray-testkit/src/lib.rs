//! What TokenTray's tests share, so each rule is written once: a scratch
//! directory per test, a free loopback port, and waiting for a condition
//! that another task or process reaches (polling with a deadline, never a
//! fixed sleep standing in for the event).

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

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback is available");
    listener.local_addr().expect("a bound socket has an address").port()
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
    }

    #[test]
    #[should_panic(expected = "timed out")]
    fn waiting_for_what_never_happens_fails() {
        wait_until("nothing", Duration::from_millis(50), || false);
    }
}

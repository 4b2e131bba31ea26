//! One truth with a daemon running: every provider, 100 logins each, each
//! followed at once by `tokentray token` and the API (never "log in"), then
//! a logout and both again (never a token); and 25 refreshes of each
//! provider that renews, each followed by `token` (always the new one).
//! The login runs in the daemon (the CLI opens the browser), so the token
//! is the daemon's the moment the command returns.
//!
//! `TOKENTRAY_ONE_TRUTH_CLI=/path/to/tokentray` runs the rounds with another
//! build (an older one, to measure what this fixed); the tallies are printed.

use crate::common::Running;
use tokentray_testkit::one_truth::{brokers, every_round, Door};
use tokentray_testkit::{scratch, wait_until};

const LOGINS: u32 = 100;
const REFRESHES: u32 = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_daemon_every_door_answers_from_the_command_just_returned() {
    let dir = scratch("one-truth-daemon");
    let b = brokers(&dir).await;
    let cli = std::env::var_os("TOKENTRAY_ONE_TRUTH_CLI").map_or(env!("CARGO_BIN_EXE_tokentray").into(), Into::into);
    // The "browser" follows the authorize URL to the callback, as a person's would.
    let mut door = Door::new(&b, cli, &[("BROWSER", "curl -s -o /dev/null -L %s")]);
    door.store_secrets(&b).await;

    let mut c = std::process::Command::new(&door.cli);
    c.arg("daemon").envs(door.env.iter().map(|(k, v)| (k, v)));
    let _daemon = Running(
        c.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let log = b.data_dir().join("tokentray.log");
    tokio::task::spawn_blocking(move || {
        wait_until("the daemon up", std::time::Duration::from_secs(20), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("daemon started"))
        })
    })
    .await
    .unwrap();

    let verdict = every_round(&door, &b, LOGINS, REFRESHES, "daemon").await;
    if std::env::var_os("TOKENTRAY_ONE_TRUTH_CLI").is_some() {
        return; // Measuring another build: its tallies are the result.
    }
    verdict.assert_one_truth(LOGINS, REFRESHES);
}

//! One truth with the tray running: the same rounds as the daemon's (see
//! tokentray-cli's `one_truth`): every provider, 100 logins each, each
//! followed at once by `tokentray token` and the API, then a logout and
//! both again; and 25 refreshes of each provider that renews. Here the
//! tray opens the browser itself, and the CLI waits for its answer.
//! Run inside the desktop session that `scripts/test.sh` starts.

use std::process::{Command, Stdio};
use std::time::Duration;
use tokentray_testkit::one_truth::{brokers, every_round, Door};
use tokentray_testkit::{scratch, wait_until, KilledOnDrop};

const LOGINS: u32 = 100;
const REFRESHES: u32 = 25;

/// The `tokentray` binary built beside this test (the workspace's tests build every binary).
fn cli() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let cli = exe.parent().and_then(|deps| deps.parent()).unwrap().join("tokentray");
    assert!(cli.is_file(), "{} is not built: run the workspace's tests (scripts/test.sh)", cli.display());
    cli
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_tray_every_door_answers_from_the_command_just_returned() {
    let dir = scratch("one-truth-tray");
    let b = brokers(&dir).await;
    let mut door = Door::new(&b, cli(), &[]);
    door.store_secrets(&b).await;

    let log = dir.join("tray.log");
    let _tray = KilledOnDrop(
        Command::new(env!("CARGO_BIN_EXE_tokentray-tray"))
            .envs(door.env.iter().map(|(k, v)| (k, v)))
            // The tray opens the "browser": it follows the authorize URL to the callback.
            .env("BROWSER", "curl -s -o /dev/null -L %s")
            .env("TOKENTRAY_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    tokio::task::spawn_blocking(move || {
        wait_until("the tray up", Duration::from_secs(30), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("tray up"))
        })
    })
    .await
    .unwrap();

    let verdict = every_round(&door, &b, LOGINS, REFRESHES, "tray").await;
    verdict.assert_one_truth(LOGINS, REFRESHES);
}

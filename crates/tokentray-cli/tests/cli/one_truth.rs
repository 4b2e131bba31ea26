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
use tokentray_testkit::one_truth::{brokers, for_every, login_rounds, refresh_rounds, Door, Tally};
use tokentray_testkit::{scratch, wait_until};

const LOGINS: u32 = 100;
const REFRESHES: u32 = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_daemon_every_door_answers_from_the_command_just_returned() {
    let dir = scratch("one-truth-daemon");
    let b = brokers(&dir).await;
    let env = vec![
        ("TOKENTRAY_CONFIG".to_owned(), b.config_path().display().to_string()),
        ("TOKENTRAY_DATA_DIR".to_owned(), b.data_dir().display().to_string()),
        // The "browser" follows the authorize URL to the callback, as a person's would.
        ("BROWSER".to_owned(), "curl -s -o /dev/null -L %s".to_owned()),
    ];
    let mut door = Door {
        cli: std::env::var_os("TOKENTRAY_ONE_TRUTH_CLI").map_or(env!("CARGO_BIN_EXE_tokentray").into(), Into::into),
        env,
        api: format!("http://127.0.0.1:{}", b.api_port),
        api_key: String::new(),
        http: reqwest::Client::new(),
    };
    for (account, flag, secret) in &b.secrets {
        let mut args = vec!["secret", "set", account.as_str()];
        args.extend(flag.iter());
        let mut c = std::process::Command::new(&door.cli);
        c.args(&args).stdin(std::process::Stdio::piped()).envs(door.env.iter().map(|(k, v)| (k, v)));
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(format!("{secret}\n").as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "secret set {account}");
    }
    door.api_key = door.ok(&["api-key"]).await;

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

    let logins = for_every(b.accounts.iter().map(|(id, _)| id.as_str()), |id| {
        let door = &door;
        async move { login_rounds(door, &id, LOGINS).await }
    })
    .await;
    for (id, tally) in &logins {
        println!("one truth, daemon, logins, {id}: {tally:?}");
    }
    let refreshes = for_every(b.renewable(), |id| {
        let door = &door;
        async move { refresh_rounds(door, &id, REFRESHES).await }
    })
    .await;
    for (id, tally) in &refreshes {
        println!("one truth, daemon, refreshes, {id}: {tally:?}");
    }
    if std::env::var_os("TOKENTRAY_ONE_TRUTH_CLI").is_some() {
        return; // Measuring another build: its tallies are the result.
    }
    for (id, tally) in &logins {
        assert_eq!(*tally, Tally { rounds: LOGINS, ..Tally::default() }, "{id}: {tally:?}");
    }
    assert_eq!(logins.len(), tokentray_core::provider::PROVIDERS.len(), "every provider kind");
    for (id, tally) in &refreshes {
        assert_eq!(*tally, Tally { rounds: REFRESHES, ..Tally::default() }, "{id}: {tally:?}");
    }
    assert!(refreshes.len() >= 5, "{refreshes:?}");
}

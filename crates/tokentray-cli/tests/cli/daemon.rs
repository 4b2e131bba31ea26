//! `tokentray daemon` as a server runs it: scheduled refreshes, one engine
//! per data directory, config edits, recovery after a crash, and SIGTERM
//! waiting for the work in flight.

use crate::common::*;
use std::time::Duration;
use tokentray_sandbox::{Endpoint, Fault};
use tokentray_testkit::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_refreshes_before_expiry_and_stops_on_sigterm() {
    let s = std::sync::Arc::new(setup("daemon").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    let first = s.sandbox.live_access_tokens().last().unwrap().clone();

    let mut daemon = start_daemon(&s).await;
    let t = s.clone();
    // 6-second tokens are refreshed half-way through, with nobody asking.
    blocking(move || {
        wait_until("a scheduled refresh", Duration::from_secs(15), || {
            t.sandbox.requests_to("/v1/oauth/token").iter().any(|r| r.form()["grant_type"] == "refresh_token")
        })
    })
    .await;
    let t = s.clone();
    blocking(move || wait_until("the refresh logged", Duration::from_secs(5), || t.log().contains("refreshed"))).await;
    let t = s.clone();
    let token = blocking(move || t.run(&["token", "oauth"], "")).await.success().stdout();
    assert_ne!(token.trim(), first, "the token in use is the refreshed one");
    assert_eq!(token.trim(), s.sandbox.live_access_tokens().last().unwrap());
    assert!(s.log().contains("control request: token oauth"), "the CLI asked the daemon: {}", s.log());

    // A second engine on the same data directory is refused.
    let t = s.clone();
    let second = blocking(move || t.run(&["daemon"], "")).await;
    assert_eq!(second.status.code(), Some(3), "not a usage error: {}", second.stderr());
    assert!(second.stderr().contains("already running"), "{}", second.stderr());

    let status = blocking(move || terminate(&mut daemon)).await;
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let log = s.log();
    assert!(log.contains("daemon started") && log.contains("stopped"), "{log}");
    assert!(!log.contains(&first) && !log.contains(token.trim()), "tokens never reach the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_config_edit_leaves_the_daemon_on_the_old_one() {
    let s = std::sync::Arc::new(setup("bad-edit").await);
    let mut daemon = start_daemon(&s).await;
    let path = s.dir.join("config.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, good.replace("provider = \"schwab\"", "provider = \"schwabb\"")).unwrap();
    let t = s.clone();
    blocking(move || {
        wait_until("the bad edit reported", Duration::from_secs(10), || t.log().contains("config edit ignored"))
    })
    .await;
    assert!(s.log().contains("config.toml:"), "the error names the line: {}", s.log());
    assert!(daemon.try_wait().unwrap().is_none(), "the daemon keeps running");

    std::fs::write(&path, good.replace("id = \"oauth\"", "id = \"schwab\"")).unwrap();
    let t = s.clone();
    blocking(move || {
        wait_until("the good edit applied", Duration::from_secs(10), || t.log().contains("config reloaded"))
    })
    .await;
    let status = blocking(move || terminate(&mut daemon)).await;
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_puts_right_what_a_crash_left_behind() {
    let s = std::sync::Arc::new(setup("recover").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    // A crash left the sink on an older token, and a temp file of an atomic
    // write (of a process that no longer runs) holding a token.
    let sink = s.dir.join("bot.env");
    let text = std::fs::read_to_string(&sink).unwrap();
    let stale: String = text
        .lines()
        .map(|l| if l.starts_with("SCHWAB_ACCESS_TOKEN=") { "SCHWAB_ACCESS_TOKEN=stale-token" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&sink, stale + "\n").unwrap();
    let leftover = s.dir.join(".bot.env.tmp-0-AbCdEf");
    std::fs::write(&leftover, "SCHWAB_ACCESS_TOKEN=leaked\n").unwrap();

    // The daemon says it started only after putting that right.
    let mut daemon = start_daemon(&s).await;
    assert!(!leftover.exists(), "the dead writer's temp file is removed");
    let log = s.log();
    assert!(log.contains("1 leftover temp file(s) removed, 1 stale sink(s) rewritten"), "{log}");
    let now = std::fs::read_to_string(&sink).unwrap();
    let token = now.lines().find_map(|l| l.strip_prefix("SCHWAB_ACCESS_TOKEN=")).unwrap().to_owned();
    assert!(s.sandbox.live_access_tokens().contains(&token), "the sink holds a live token again: {now}");
    assert!(now.starts_with("# my bot\nLOG_LEVEL=info\n"), "{now}");

    // Another process sees the sink's result: it is in the state file.
    let t = s.clone();
    let status = blocking(move || t.run(&["status", "--json"], "")).await.success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    let oauth = json["accounts"].as_array().unwrap().iter().find(|a| a["id"] == "oauth").unwrap().clone();
    let sinks = oauth["sinks"].as_array().unwrap();
    assert_eq!(sinks.len(), 1, "{oauth}");
    assert_eq!(sinks[0]["ok"], true);
    assert!(sinks[0]["path"].as_str().unwrap().ends_with("bot.env"));
    blocking(move || terminate(&mut daemon)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_waits_for_a_refresh_in_flight() {
    // The broker is slow to answer the next refresh: SIGTERM will land while it runs.
    let (s, mut daemon) = daemon_with_a_refresh_in_flight("drain").await;
    let status = blocking(move || terminate(&mut daemon)).await;
    assert!(status.success(), "{status:?}");
    let log = s.log();
    let refreshed = log.find("refreshed").expect("the refresh in flight finished");
    assert!(refreshed < log.rfind("stopped").unwrap(), "{log}");
    // What the broker issued last is what is stored: nothing was cut off.
    let t = s.clone();
    let token = blocking(move || t.run(&["token", "oauth"], "")).await.success();
    assert_eq!(token.stdout().trim(), s.sandbox.live_access_tokens().last().unwrap());
}

/// `tokentray stop` stops a daemon as SIGTERM does (on Windows the way to
/// stop one without a console): a refresh in flight finishes, the command
/// returns once the daemon let go of its claim, and a second stop finds
/// nothing to stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_waits_for_a_refresh_in_flight_and_returns_once_the_daemon_is_gone() {
    let (s, mut daemon) = daemon_with_a_refresh_in_flight("stop").await;
    let t = s.clone();
    let stop = blocking(move || t.run(&["stop"], "")).await.success();
    assert!(stop.stderr().contains("stopped"), "{}", stop.stderr());
    // Gone when `stop` returned: its claim was let go after its last work.
    let status = blocking(move || daemon.wait().unwrap()).await;
    assert!(status.success(), "{status:?}");
    let log = s.log();
    assert!(log.contains("asked to stop"), "{log}");
    let refreshed = log.find("refreshed").expect("the refresh in flight finished");
    assert!(refreshed < log.rfind("stopped").unwrap(), "{log}");
    let t = s.clone();
    let token = blocking(move || t.run(&["token", "oauth"], "")).await.success();
    assert_eq!(token.stdout().trim(), s.sandbox.live_access_tokens().last().unwrap());
    let t = s.clone();
    let again = blocking(move || t.run(&["stop"], "")).await.success();
    assert!(again.stderr().contains("nothing to stop"), "{}", again.stderr());
}

/// Every path under `dir`, directories included, depth first.
#[cfg(unix)]
fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        out.push(path.clone());
        if entry.file_type().unwrap().is_dir() {
            walk(&path, out);
        }
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_and_everything_in_it_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let s = std::sync::Arc::new(setup("private").await);
    let data = s.dir.join("data");
    // Left open by an older version, or by hand.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(data.join("tokentray.log"), "old\n").unwrap();
    std::fs::set_permissions(data.join("tokentray.log"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    let mut daemon = start_daemon(&s).await;
    let t = s.clone();
    blocking(move || t.run(&["refresh", "oauth"], "")).await.success();

    let mode = |p: &std::path::Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data directory is tightened");
    let mut paths = Vec::new();
    walk(&data, &mut paths);
    for name in ["tokentray.log", "state.json", "secrets.json", "tokentray.sock", "locks/oauth.lock"] {
        assert!(paths.contains(&data.join(name)), "{name} is there to check: {paths:?}");
    }
    for path in &paths {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(path), expected, "{}", path.display());
    }
    let status = blocking(move || terminate(&mut daemon)).await;
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snooze_holds_the_running_daemons_notices_and_status_says_until_when() {
    let s = std::sync::Arc::new(setup("snooze").await);
    let t = s.clone();
    let alone = blocking(move || t.run(&["snooze"], "")).await;
    assert_eq!(alone.status.code(), Some(1), "nothing runs to snooze: {}", alone.stderr());
    assert!(alone.stderr().contains("start the tray or `tokentray daemon`"), "{}", alone.stderr());
    let t = s.clone();
    let bad = blocking(move || t.run(&["snooze", "soon"], "")).await;
    assert_eq!(bad.status.code(), Some(2), "{}", bad.stderr());
    assert!(bad.stderr().contains("`off` to resume"), "{}", bad.stderr());
    let t = s.clone();
    let long = blocking(move || t.run(&["snooze", "100000000d"], "")).await;
    assert_eq!(long.status.code(), Some(2), "{}", long.stderr());
    assert!(long.stderr().contains("longer than a snooze goes"), "{}", long.stderr());

    let mut daemon = start_daemon(&s).await;
    let t = s.clone();
    let snoozed = blocking(move || t.run(&["snooze", "90m"], "")).await.success();
    assert!(snoozed.stderr().contains("notifications snoozed until"), "{}", snoozed.stderr());
    let t = s.clone();
    let status = blocking(move || t.run(&["status", "--json"], "")).await.success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    let until: chrono::DateTime<chrono::Utc> = json["snoozed_until"].as_str().unwrap().parse().unwrap();
    let left = until - chrono::Utc::now();
    assert!(left > chrono::TimeDelta::minutes(85) && left <= chrono::TimeDelta::minutes(90), "{left}");
    assert_eq!(json["silenced_until"], json["snoozed_until"]);
    let t = s.clone();
    let text = blocking(move || t.run(&["status"], "")).await.success();
    assert!(text.stdout().contains("notifications that can wait are held until"), "{}", text.stdout());
    let t = s.clone();
    let resumed = blocking(move || t.run(&["snooze", "off"], "")).await.success();
    assert!(resumed.stderr().contains("notifications resumed"), "{}", resumed.stderr());
    let t = s.clone();
    let status = blocking(move || t.run(&["status", "--json"], "")).await.success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    assert!(json["snoozed_until"].is_null(), "{json}");
    blocking(move || terminate(&mut daemon)).await;
}

/// A logged-in daemon whose scheduled refresh is under way at the broker,
/// which takes 1.5 s to answer it: a stop lands while it runs.
async fn daemon_with_a_refresh_in_flight(name: &str) -> (std::sync::Arc<Setup>, Running) {
    let s = std::sync::Arc::new(setup(name).await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    s.sandbox.inject(Endpoint::OAuth2Token, Fault::delay(Duration::from_millis(1500)), Some(1));
    let before = s.sandbox.requests_to("/v1/oauth/token").len();
    let daemon = start_daemon(&s).await;
    let t = s.clone();
    blocking(move || {
        wait_until("the scheduled refresh sent", Duration::from_secs(15), || {
            t.sandbox.requests_to("/v1/oauth/token").len() > before
        })
    })
    .await;
    (s, daemon)
}

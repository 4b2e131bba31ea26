//! Scripts taking the token from a running daemon: `exec` (restarts, exit
//! codes, one account only), `header`, the Python examples, and a bot that
//! reports a refused token.

use crate::common::*;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokentray_testkit::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_restarts_the_command_when_the_daemon_gets_a_new_token() {
    let s = std::sync::Arc::new(setup("exec").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    let mut daemon = start_daemon(&s).await;
    let seen = s.dir.join("tokens.txt");
    let script = format!("echo \"$SCHWAB_ACCESS_TOKEN $TOKENTRAY_ACCOUNT\" >> {}; exec sleep 100", seen.display());
    let t = s.clone();
    // Killed even when the test fails half-way.
    let mut exec = blocking(move || {
        Running(
            t.command(&["exec", "oauth", "--restart-on-change", "--grace", "2s", "--", "sh", "-c", &script])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    })
    .await;
    let t = seen.clone();
    blocking(move || {
        wait_until("the command restarted with a new token", Duration::from_secs(20), || {
            std::fs::read_to_string(&t).map(|x| x.lines().count() >= 2).unwrap_or(false)
        })
    })
    .await;
    let lines: Vec<String> = std::fs::read_to_string(&seen).unwrap().lines().map(str::to_owned).collect();
    assert_ne!(lines[0], lines[1], "a new token the second time: {lines:?}");
    assert!(lines[1].ends_with(" oauth"));
    let newest = s.sandbox.live_access_tokens().last().unwrap().clone();
    assert!(lines.iter().any(|l| l.starts_with(&newest)) || lines.len() > 2, "{lines:?} vs {newest}");
    // The signal reaches the command; its way of ending is ours.
    let status = blocking(move || terminate(&mut exec)).await;
    assert_eq!(status.code(), Some(128 + 15), "exit code of a child ended by SIGTERM: {status:?}");
    blocking(move || terminate(&mut daemon)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_passes_the_exit_code_and_header_prints_the_authorization() {
    let s = std::sync::Arc::new(setup("exec-code").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "kite"], "")).await.success();
    let t = s.clone();
    let out = blocking(move || {
        t.run(&["exec", "kite", "--", "sh", "-c", "echo $KITE_API_KEY:$KITE_ACCESS_TOKEN; exit 7"], "")
    })
    .await;
    assert_eq!(out.status.code(), Some(7));
    let token = s.sandbox.live_access_tokens().last().unwrap().clone();
    assert_eq!(out.stdout().trim(), format!("kitekey:{token}"));
    let t = s.clone();
    let header = blocking(move || t.run(&["header", "kite"], "")).await.success();
    assert_eq!(header.stdout().trim(), format!("token kitekey:{token}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_examples_follow_new_tokens_from_the_daemon() {
    let s = std::sync::Arc::new(setup("examples").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    let env_file = s.dir.join("bot.env");
    let t = s.clone();
    let key = blocking(move || t.run(&["api-key"], "")).await.success().stdout().trim().to_owned();
    let mut daemon = start_daemon(&s).await;
    let port = s.api_port;
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let bot = blocking(move || {
        Command::new("python3")
            .arg(format!("{examples}/sse_bot.py"))
            .args(["oauth", "--exit-after", "1"])
            .env("TOKENTRAY_API", format!("http://127.0.0.1:{port}"))
            .env("TOKENTRAY_API_KEY", key)
            .output()
            .unwrap()
    })
    .await;
    assert!(bot.status.success(), "{}", String::from_utf8_lossy(&bot.stderr));
    let said = String::from_utf8_lossy(&bot.stdout).into_owned();
    assert_eq!(
        said.matches("market feed: connected").count(),
        2,
        "connected, then reconnected on the new token: {said}"
    );
    assert!(said.contains("closing the session on the old token"));

    // The daemon also wrote the token to the .env sink, keeping the other lines.
    let consumer = blocking(move || {
        Command::new("python3")
            .arg(format!("{examples}/dotenv_consumer.py"))
            .args([env_file.to_str().unwrap(), "SCHWAB_ACCESS_TOKEN", "--once"])
            .output()
            .unwrap()
    })
    .await;
    assert!(consumer.status.success(), "{}", String::from_utf8_lossy(&consumer.stderr));
    let from_file = String::from_utf8_lossy(&consumer.stdout).trim().to_owned();
    let t = s.clone();
    let current = blocking(move || t.run(&["token", "oauth"], "")).await.success().stdout().trim().to_owned();
    assert_eq!(from_file, current);
    assert!(std::fs::read_to_string(s.dir.join("bot.env")).unwrap().starts_with("# my bot\nLOG_LEVEL=info\n"));
    blocking(move || terminate(&mut daemon)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_reports_a_refused_token_and_carries_on_after_the_login() {
    let s = std::sync::Arc::new(setup("report").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "kite"], "")).await.success();
    let t = s.clone();
    let key = blocking(move || t.run(&["api-key"], "")).await.success().stdout().trim().to_owned();
    let mut daemon = start_daemon(&s).await;
    let port = s.api_port;
    // A login elsewhere ends the session at the broker.
    s.sandbox.expire_access_tokens();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let broker = s.sandbox.url();
    let mut bot = Running(
        Command::new("python3")
            .arg(format!("{examples}/report_and_wait.py"))
            .args(["kite", "--broker", &broker])
            .env("TOKENTRAY_API", format!("http://127.0.0.1:{port}"))
            .env("TOKENTRAY_API_KEY", key)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let state = s.dir.join("data/state.json");
    blocking(move || {
        wait_until("the bot's report recorded", Duration::from_secs(20), || {
            std::fs::read_to_string(&state).is_ok_and(|t| t.contains("\"access_rejected\": true"))
        })
    })
    .await;
    // The daemon cannot open a browser: the CLI logs in itself, and says nothing else.
    let t = s.clone();
    let login = blocking(move || t.run(&["login", "kite"], "")).await.success();
    assert!(!login.stderr().contains("running TokenTray"), "{}", login.stderr());
    let out = blocking(move || {
        wait_until("the bot to finish", Duration::from_secs(30), || matches!(bot.try_wait(), Ok(Some(_))));
        let mut text = String::new();
        std::io::Read::read_to_string(bot.stdout.as_mut().unwrap(), &mut text).unwrap();
        (bot.try_wait().unwrap().unwrap(), text)
    })
    .await;
    assert!(out.0.success(), "{}", out.1);
    assert!(out.1.contains("the broker refused the token; reported it (409)"), "{}", out.1);
    assert!(out.1.contains("working again on the new token"), "{}", out.1);
    blocking(move || terminate(&mut daemon)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_works_for_its_own_account_only() {
    let s = std::sync::Arc::new(setup("exec-focus").await);
    for account in ["kite", "oauth"] {
        let t = s.clone();
        blocking(move || t.run(&["login", account], "")).await.success();
    }
    s.sandbox.clear_requests();
    // No daemon: exec's own engine runs while the command does. `oauth`'s
    // 6-second token falls due for a refresh 3 s after its login: an engine
    // working for every account would renew it (and tell the command's
    // output about it); this one works for `kite` alone.
    let t = s.clone();
    let out = blocking(move || t.run(&["exec", "kite", "--restart-on-change", "--", "sleep", "5"], "")).await;
    assert!(out.status.success(), "{}", out.stderr());
    assert!(s.sandbox.requests_to("/v1/oauth/token").is_empty(), "nothing was done for oauth");
    assert!(!out.stderr().contains("oauth"), "the command's output hears nothing of oauth: {}", out.stderr());
}

//! `tokentray demo` as a newcomer runs it: the commands it suggests for
//! another terminal are answered by the demo's own engine, and a second
//! demo is refused instead of emptying the first one's directory.

use crate::common::Running;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokentray_core::State;
use tokentray_runtime::control::{self, call};
use tokentray_testkit::{scratch, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_terminal_reaches_the_demos_engine_and_a_second_demo_is_refused() {
    let dir = scratch("cli-demo");
    let demo = dir.join("demo");
    let stderr = dir.join("demo.log");
    let _first = Running(
        Command::new(env!("CARGO_BIN_EXE_tokentray"))
            .arg("demo")
            .env("TOKENTRAY_DATA_DIR", &dir)
            // Kept open: the demo waits for Enter.
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap(),
    );
    let data_dir = demo.join("data");
    let ready = data_dir.clone();
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        wait_until("the demo's engine answers, logged in", Duration::from_secs(30), || {
            runtime
                .block_on(control::ask(&ready, call::Status {}))
                .is_ok_and(|accounts| accounts.len() == 2 && accounts.iter().all(|a| a.state == State::Valid))
        })
    })
    .await
    .unwrap();

    let second = Command::new(env!("CARGO_BIN_EXE_tokentray"))
        .arg("demo")
        .env("TOKENTRAY_DATA_DIR", &dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("a demo is already running"), "{said}");
    assert!(data_dir.join("state.json").exists(), "the first demo's directory is untouched");

    // What the demo tells a newcomer to run from another terminal.
    let token = Command::new(env!("CARGO_BIN_EXE_tokentray"))
        .args(["token", "demo-oauth"])
        .env("TOKENTRAY_CONFIG", demo.join("config.toml"))
        .env("TOKENTRAY_DATA_DIR", &data_dir)
        .output()
        .unwrap();
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let log = std::fs::read_to_string(&stderr).unwrap();
    assert!(log.contains("control request: token demo-oauth"), "answered by the demo's engine: {log}");
}

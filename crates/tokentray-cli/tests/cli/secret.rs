//! `tokentray secret set` through the real binary, with the secret on stdin.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn scratch(name: &str) -> PathBuf {
    tokentray_testkit::scratch(&format!("cli-{name}"))
}

fn tokentray(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokentray"))
        .args(args)
        .env("TOKENTRAY_CONFIG", dir.join("config.toml"))
        .env("TOKENTRAY_DATA_DIR", dir.join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading its input closes the pipe first:
    // the write then meets EPIPE, and the exit status is what the test checks.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

const CONFIG: &str = r#"
storage = "plaintext"

[[account]]
id = "kite"
provider = "kite"
api_key = "k"
redirect_uri = "http://127.0.0.1:5010/cb"
"#;

#[test]
fn secret_set_reads_stdin_and_stores_it() {
    let dir = scratch("set");
    std::fs::write(dir.join("config.toml"), CONFIG).unwrap();
    // The broker had refused the old secret three times: TokenTray had stopped trying it.
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("data/state.json"),
        r#"{"accounts": {"kite": {"renewals_refused": 3, "logins_refused": 3}}}"#,
    )
    .unwrap();
    let out = tokentray(&dir, &["secret", "set", "kite"], "my-api-secret\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PLAINTEXT"), "plaintext storage is said: {stderr}");
    assert!(!stderr.contains("my-api-secret"));
    let stored = std::fs::read_to_string(dir.join("data/secrets.json")).unwrap();
    assert!(stored.contains("\"kite/api_secret\": \"my-api-secret\""), "{stored}");
    let state = std::fs::read_to_string(dir.join("data/state.json")).unwrap();
    assert!(
        !state.contains("renewals_refused") && !state.contains("logins_refused"),
        "the new secret will be tried: {state}"
    );

    let out = tokentray(&dir, &["secret", "delete", "kite"], "");
    assert!(out.status.success());
    assert!(!std::fs::read_to_string(dir.join("data/secrets.json")).unwrap().contains("my-api-secret"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_unknown_account_lists_the_known_ones() {
    let dir = scratch("unknown");
    std::fs::write(dir.join("config.toml"), CONFIG).unwrap();
    let out = tokentray(&dir, &["secret", "set", "kyte"], "x\n");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no account `kyte`") && stderr.contains("the accounts are: kite"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_empty_secret_is_refused() {
    let dir = scratch("empty");
    std::fs::write(dir.join("config.toml"), CONFIG).unwrap();
    let out = tokentray(&dir, &["secret", "set", "kite"], "\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
    assert!(!dir.join("data/secrets.json").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_broken_config_names_the_line() {
    let dir = scratch("broken");
    std::fs::write(dir.join("config.toml"), "[[account]]\nid = \"kite\"\nprovider = \"kyte\"\n").unwrap();
    let out = tokentray(&dir, &["secret", "set", "kite"], "x\n");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("config.toml:3:") && stderr.contains("provider"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn without_a_desktop_the_bare_command_points_to_daemon_and_demo() {
    let dir = scratch("bare");
    let out = Command::new(env!("CARGO_BIN_EXE_tokentray"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("TOKENTRAY_CONFIG", dir.join("config.toml"))
        .env("TOKENTRAY_DATA_DIR", dir.join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tokentray daemon") && stderr.contains("tokentray demo"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

// Built for Unix only: its alert command is a shell script.
#[cfg(unix)]
#[test]
fn an_alerts_secret_and_a_test_message_from_the_command_line() {
    let dir = scratch("alerts");
    let log = dir.join("alert.json");
    let writer = dir.join("alert.sh");
    std::fs::write(&writer, format!("#!/bin/sh\ncat > '{}'\n", log.display())).unwrap();
    std::fs::set_permissions(&writer, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let alerts = format!(
        "\n[[alert]]\nname = \"log\"\ntype = \"command\"\ncommand = [\"{}\"]\n\
         [[alert]]\nname = \"broken\"\ntype = \"command\"\ncommand = [\"/bin/false\"]\n",
        writer.display()
    );
    std::fs::write(dir.join("config.toml"), format!("{CONFIG}{alerts}")).unwrap();

    let out = tokentray(&dir, &["secret", "set", "--alert", "log"], "signing-key\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(dir.join("data/secrets.json")).unwrap().contains("\"alert.log/secret\""));
    let out = tokentray(&dir, &["secret", "set", "--alert", "nope"], "x\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no alert is named `nope`"), "{out:?}");

    // One arrives, one does not: exit 1, and each line says how it went.
    let out = tokentray(&dir, &["alert", "test"], "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("log ") && l.ends_with(" sent")), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("broken ") && l.contains("NOT SENT: /bin/false exited")), "{stdout}");
    let sent: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).unwrap();
    assert_eq!(sent["test"], true);
    let out = tokentray(&dir, &["alert", "test", "log"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // `status --json` shows each alert's last result.
    let out = tokentray(&dir, &["status", "--json"], "");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let broken = status["alerts"].as_array().unwrap().iter().find(|a| a["name"] == "broken").unwrap().clone();
    assert_eq!(broken["delivered"], false, "{status}");
    std::fs::remove_dir_all(dir).unwrap();
}

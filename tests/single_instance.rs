//! One TokenTray per data directory: a second launch of the tray brings the
//! first one's window (a process of its own) forward and leaves, without
//! touching its files; one window at a time, gone with the tray.
//! Run inside the desktop session that `scripts/test.sh` starts.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Visible ones: GTK keeps hidden windows named after the application too.
fn windows_named_tokentray() -> usize {
    let out = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", "^TokenTray$"])
        .output()
        .expect("xdotool runs");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn launch(dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tokentray-tray"))
        .args(args)
        .env("TOKENTRAY_DATA_DIR", dir)
        .env("TOKENTRAY_CONFIG", dir.join("no-config.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_second_launch_shows_the_first_ones_window() {
    let dir = tokentray_testkit::scratch("single");
    let mut first = launch(&dir, &["--demo"]);
    let state = dir.join("demo/data/state.json");
    let started = Instant::now();
    while !(dir.join("demo/data/tokentray.sock").exists() && state.exists()) {
        assert!(started.elapsed() < Duration::from_secs(30), "the first tray never came up");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(windows_named_tokentray(), 0, "the tray starts without a window");
    let before = std::fs::read_to_string(&state).unwrap();

    let mut second = launch(&dir, &["--demo", "--show"]);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the second launch did not leave");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    let started = Instant::now();
    while windows_named_tokentray() == 0 {
        assert!(started.elapsed() < Duration::from_secs(15), "the first tray's window never appeared");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        before,
        "the second launch left the running demo's files alone"
    );
    assert!(first.try_wait().unwrap().is_none(), "the first tray keeps running");

    // One window at a time: another window launch brings that one forward and leaves.
    let status = launch(&dir, &["--demo", "--window"]).wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(windows_named_tokentray(), 1, "still one window");

    // Quit: the window goes with the engine it shows.
    let _ = first.kill();
    let _ = first.wait();
    let started = Instant::now();
    while windows_named_tokentray() > 0 {
        assert!(started.elapsed() < Duration::from_secs(15), "the window outlived the tray");
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = first.kill();
    let _ = first.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

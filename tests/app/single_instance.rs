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

/// The window processes the tray of `dir` started (`--window --engine-dir DIR/...`).
fn window_processes(dir: &Path) -> Vec<u32> {
    let dir = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<String> =
                cmdline.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            args.iter().any(|a| a == "--window") && args.iter().any(|a| a.starts_with(&dir))
        })
        .collect()
}

/// A launched tray or window, killed when the test lets go of it (also on a panic).
struct Launched {
    child: std::process::Child,
}

impl Drop for Launched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills, when the test ends (also on a panic), the window processes the
/// tray of `dir` started, which are not the test's children.
struct WindowsOf(std::path::PathBuf);

impl Drop for WindowsOf {
    fn drop(&mut self) {
        for pid in window_processes(&self.0) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

impl Launched {
    fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Its exit status, which must come within `limit`.
    fn exit_within(&mut self, limit: Duration, what: &str) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.try_wait() {
                return status;
            }
            assert!(started.elapsed() < limit, "{what}: still running after {limit:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn launch(dir: &Path, args: &[&str]) -> Launched {
    launch_logging(dir, args, Stdio::null())
}

fn launch_logging(dir: &Path, args: &[&str], stderr: impl Into<Stdio>) -> Launched {
    let child = Command::new(env!("CARGO_BIN_EXE_tokentray-tray"))
        .args(args)
        .env("TOKENTRAY_DATA_DIR", dir)
        .env("TOKENTRAY_CONFIG", dir.join("no-config.toml"))
        .env("TOKENTRAY_LOG", "info")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    Launched { child }
}

#[test]
fn a_second_launch_shows_the_first_ones_window() {
    let dir = tokentray_testkit::scratch("single");
    let _windows = WindowsOf(dir.clone());
    let log = dir.join("first.log");
    let mut first = launch_logging(&dir, &["--demo"], std::fs::File::create(&log).unwrap());
    let state = dir.join("demo/data/state.json");
    // "tray up" is said once all of it is: a window it were to open would be started by then.
    tokentray_testkit::wait_until("the first tray up", Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("tray up")) && state.exists()
    });
    assert!(window_processes(&dir).is_empty(), "the tray starts without a window");
    let before = std::fs::read_to_string(&state).unwrap();

    let status = launch(&dir, &["--demo", "--show"]).exit_within(Duration::from_secs(20), "the second launch");
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
    assert!(first.try_wait().is_none(), "the first tray keeps running");

    // One window at a time: another window launch brings that one forward and leaves.
    let status = launch(&dir, &["--demo", "--window"]).exit_within(Duration::from_secs(20), "a second window");
    assert!(status.success(), "{status:?}");
    assert_eq!(windows_named_tokentray(), 1, "still one window");

    // Gone, then two opened at once (a double click): one window.
    for pid in window_processes(&dir) {
        Command::new("kill").arg(pid.to_string()).status().unwrap();
    }
    let started = Instant::now();
    while windows_named_tokentray() > 0 {
        assert!(started.elapsed() < Duration::from_secs(15), "the window did not close");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (mut a, mut b) = (launch(&dir, &["--demo", "--window"]), launch(&dir, &["--demo", "--window"]));
    let started = Instant::now();
    let settled = loop {
        // One of the two leaves once it has brought the other forward.
        match (a.try_wait(), b.try_wait()) {
            (Some(s), None) | (None, Some(s)) => break s,
            (Some(_), Some(_)) => panic!("both windows ended"),
            (None, None) => {}
        }
        assert!(started.elapsed() < Duration::from_secs(20), "neither window launch left");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(settled.success(), "{settled:?}");
    assert!(a.try_wait().is_none() || b.try_wait().is_none(), "the other is the window, and stays");
    // On screen: one window (GTK may map a helper of the app's name for a moment while it starts).
    let started = Instant::now();
    while windows_named_tokentray() != 1 {
        assert!(started.elapsed() < Duration::from_secs(15), "never exactly one window on screen");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Quit: the window goes with the engine it shows.
    let _ = first.child.kill();
    let _ = first.child.wait();
    let started = Instant::now();
    while windows_named_tokentray() > 0 {
        assert!(started.elapsed() < Duration::from_secs(15), "the window outlived the tray");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop((a, b, first));
    let _ = std::fs::remove_dir_all(&dir);
}

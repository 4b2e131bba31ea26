//! The .deb as a user gets it: built by `scripts/package.sh` (Tauri's
//! bundler), installed with `dpkg -i`, run from the installed paths, and
//! removed cleanly. Needs root, as `scripts/test.sh` runs on the test machine.

use std::path::Path;
use std::process::{Command, Output};

const PACKAGE: &str = "token-tray";

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program} runs: {e}"))
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes the package even when the test fails half-way.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = run("dpkg", &["-r", PACKAGE]);
    }
}

#[test]
fn the_package_installs_runs_and_is_removed_cleanly() {
    // Never replace (and then remove) a TokenTray someone installed here.
    let present = run("dpkg", &["-s", PACKAGE]);
    assert!(
        !present.status.success(),
        "{PACKAGE} is installed on this machine: this test would replace and remove it; run it on a test machine"
    );
    let root = env!("CARGO_MANIFEST_DIR");
    let built = Command::new(format!("{root}/scripts/package.sh")).current_dir(root).output().unwrap();
    let deb = ok(built, "scripts/package.sh").lines().last().expect("the package's path").trim().to_owned();
    let deb = Path::new(root).join(deb);
    let size = std::fs::metadata(&deb).unwrap().len();
    eprintln!("package {} is {:.1} MB", deb.display(), size as f64 / 1e6);

    let installed = Installed;
    ok(run("dpkg", &["-i", deb.to_str().unwrap()]), "dpkg -i");
    let files = ok(run("dpkg", &["-L", PACKAGE]), "dpkg -L");
    for path in [
        "/usr/bin/tokentray-tray",
        "/usr/bin/tokentray",
        "/usr/lib/systemd/user/tokentray.service",
        "/usr/share/applications/TokenTray.desktop",
        "/etc/xdg/autostart/TokenTray.desktop",
    ] {
        assert!(files.lines().any(|l| l == path), "{path} in the package: {files}");
        assert!(Path::new(path).exists(), "{path} installed");
    }
    assert!(files.lines().any(|l| l.starts_with("/usr/share/icons/")), "icons: {files}");
    let autostart = std::fs::read_to_string("/etc/xdg/autostart/TokenTray.desktop").unwrap();
    assert!(autostart.contains("Exec=/usr/bin/tokentray-tray --background\n"), "{autostart}");
    let unit = std::fs::read_to_string("/usr/lib/systemd/user/tokentray.service").unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/tokentray daemon"), "{unit}");

    let version = ok(run("/usr/bin/tokentray", &["--version"]), "tokentray --version");
    assert_eq!(version.trim(), concat!("tokentray ", env!("CARGO_PKG_VERSION")));
    let dir = tokentray_testkit::scratch("package");
    std::fs::write(dir.join("config.toml"), "storage = \"plaintext\"\n").unwrap();
    let status = Command::new("/usr/bin/tokentray")
        .arg("status")
        .env("TOKENTRAY_CONFIG", dir.join("config.toml"))
        .env("TOKENTRAY_DATA_DIR", dir.join("data"))
        .output()
        .unwrap();
    ok(status, "tokentray status from the installed path");

    drop(installed);
    let listed = run("dpkg", &["-s", PACKAGE]);
    assert!(!listed.status.success(), "removed");
    for path in [
        "/usr/bin/tokentray-tray",
        "/usr/bin/tokentray",
        "/usr/lib/systemd/user/tokentray.service",
        "/etc/xdg/autostart/TokenTray.desktop",
    ] {
        assert!(!Path::new(path).exists(), "{path} removed with the package");
    }
}

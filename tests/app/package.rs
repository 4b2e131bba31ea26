//! The .deb as a user gets it: built by `scripts/package.sh` (Tauri's
//! bundler) from the debug build the suite made (`--debug`: the same files,
//! unoptimized; a second, optimized build of the tree would take minutes
//! and test nothing more of the packaging), installed with `dpkg -i`, run
//! from the installed paths, and removed cleanly; the .rpm built beside it holds the same files (read
//! with `rpm -qlp`: this Debian machine does not install it). Needs root,
//! as `scripts/test.sh` runs on the test machine.

use std::path::Path;
use std::process::{Command, Output};

const PACKAGE: &str = "token-tray";

/// What both packages install (besides the icons).
const FILES: [&str; 5] = [
    "/usr/bin/tokentray-tray",
    "/usr/bin/tokentray",
    "/usr/lib/systemd/user/tokentray.service",
    "/usr/share/applications/TokenTray.desktop",
    "/etc/xdg/autostart/TokenTray.desktop",
];

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
    let built = Command::new(format!("{root}/scripts/package.sh")).arg("--debug").current_dir(root).output().unwrap();
    let printed = ok(built, "scripts/package.sh");
    let mut paths = printed.lines().rev().take(2).map(|l| Path::new(root).join(l.trim()));
    let (rpm, deb) = (paths.next().expect("the .rpm's path"), paths.next().expect("the .deb's path"));
    assert_eq!(deb.extension().and_then(|e| e.to_str()), Some("deb"), "{printed}");
    assert_eq!(rpm.extension().and_then(|e| e.to_str()), Some("rpm"), "{printed}");
    for package in [&deb, &rpm] {
        let size = std::fs::metadata(package).unwrap().len();
        eprintln!("package {} is {:.1} MB", package.display(), size as f64 / 1e6);
    }
    let rpm_files = ok(run("rpm", &["-qlp", rpm.to_str().unwrap()]), "rpm -qlp");
    for path in FILES {
        assert!(rpm_files.lines().any(|l| l == path), "{path} in the .rpm: {rpm_files}");
    }

    let installed = Installed;
    ok(run("dpkg", &["-i", deb.to_str().unwrap()]), "dpkg -i");
    let files = ok(run("dpkg", &["-L", PACKAGE]), "dpkg -L");
    for path in FILES {
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
    for path in FILES {
        assert!(!Path::new(path).exists(), "{path} removed with the package");
    }
}

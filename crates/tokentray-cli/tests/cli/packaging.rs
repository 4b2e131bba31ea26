//! The systemd unit as systemd itself judges it: `systemd-analyze security`
//! on the file, offline, as a user unit. The daemon holds live tokens, so
//! the unit must keep its exposure low and its core dumps off.

use std::process::Command;

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../packaging/tokentray.service");

#[test]
fn the_service_unit_is_sandboxed_and_dumps_no_core() {
    let text = std::fs::read_to_string(UNIT).unwrap();
    for line in ["LimitCORE=0", "UMask=0077", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"] {
        assert!(text.lines().any(|l| l == line), "{line} is set");
    }
    let runtime = tokentray_testkit::scratch("systemd-runtime");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--user", UNIT])
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .expect("systemd-analyze is installed (scripts/install-deps.sh installs systemd)");
    let report = String::from_utf8_lossy(&out.stdout);
    let level = report
        .lines()
        .find_map(|l| l.split("Overall exposure level for tokentray.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {report}{}", String::from_utf8_lossy(&out.stderr)));
    assert!(level <= 2.5, "exposure {level} (0 is best, 10 worst): {report}");
}

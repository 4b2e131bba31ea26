//! Notifications reach a real notification daemon (dunst) on the D-Bus
//! session bus: the summary, body and "Log in" action of each, once.
//! Run inside the desktop session that `scripts/test.sh` starts.

use std::process::{Command, Stdio};
use std::time::Duration;
use tokentray_app::notify::DesktopNotifier;
use tokentray_core::{ErrorClass, Notice, NoticeKind, Span};
use tokentray_runtime::Notifier;
use tokentray_testkit::wait_until;

/// An account whose label no other test's notifications carry: other tests
/// share the session bus, and only this one's calls are counted.
fn account(label: &str) -> tokentray_runtime::AccountName {
    tokentray_runtime::AccountName { id: "kite-main".to_owned(), label: label.to_owned() }
}

#[test]
fn each_notice_arrives_once_with_its_action() {
    let log = std::env::temp_dir().join(format!("tokentray-notify-{}.log", std::process::id()));
    // Killed even when the test fails half-way.
    let monitor = tokentray_testkit::KilledOnDrop(
        Command::new("dbus-monitor")
            .args(["--session", "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor runs in the test session"),
    );
    // It drops its bus name once it monitors: from then on it sees every call.
    wait_until("dbus-monitor monitoring", Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|s| s.contains("NameLost"))
    });

    let (tx, _clicks) = tokio::sync::mpsc::unbounded_channel();
    let notifier = DesktopNotifier { clicks: tx };
    let label = format!("Kite{}", std::process::id());
    let a = account(&label);
    notifier.notify(&a, &Notice { kind: NoticeKind::Orange { remaining: Span::minutes(134) } });
    notifier.notify(&a, &Notice { kind: NoticeKind::RefreshFailed { attempts: 3, class: ErrorClass::Transient } });
    notifier.notify(&a, &Notice { kind: NoticeKind::LoginSucceeded });
    // A fourth, sent after the three returned: once it has arrived, a
    // duplicate of one of them would have arrived too.
    let last = account(&format!("{label}-last"));
    notifier.notify(&last, &Notice { kind: NoticeKind::LoginSucceeded });
    let ours = |log: &str| -> Vec<String> {
        log.split("method call")
            .skip(1)
            .filter(|c| c.contains(&format!("string \"{label}")))
            .map(str::to_owned)
            .collect()
    };
    let last_seen = format!("string \"{label}-last: logged in\"");
    wait_until("the four notifications", Duration::from_secs(10), || {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        ours(&log).len() >= 4 && log.contains(&last_seen)
    });
    drop(monitor);
    let seen = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);

    let calls: Vec<String> = ours(&seen).into_iter().filter(|c| !c.contains(&last_seen)).collect();
    assert_eq!(calls.len(), 3, "three notifications, each once: {seen}");
    let find = |summary: &str| {
        let summary = format!("string \"{label}: {summary}\"");
        let matching: Vec<&String> = calls.iter().filter(|c| c.contains(&summary)).collect();
        assert_eq!(matching.len(), 1, "{summary} arrives once: {seen}");
        matching[0].clone()
    };
    let orange = find("log in within 2h 14m");
    assert!(orange.contains("string \"TokenTray\""), "app name: {orange}");
    assert!(orange.contains("Log in before it expires"), "body: {orange}");
    assert!(orange.contains("string \"login\"") && orange.contains("string \"Log in\""), "the Log in action: {orange}");
    assert!(orange.contains("string \"snooze\"") && orange.contains("string \"Snooze 1 h\""), "snooze: {orange}");
    let failed = find("refresh failed");
    assert!(failed.contains("3 attempt(s) failed"), "{failed}");
    let ok = find("logged in");
    assert!(!ok.contains("string \"login\""), "no Log in action on success: {ok}");
    assert!(!ok.contains("string \"snooze\""), "nothing to snooze in good news: {ok}");
}

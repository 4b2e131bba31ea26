//! Notifications reach a real notification daemon (dunst) on the D-Bus
//! session bus: the summary, body and "Log in" action of each, once.
//! Run inside the desktop session that `scripts/test.sh` starts.

use std::process::{Command, Stdio};
use std::time::Duration;
use tokentray_adapters::config::Config;
use tokentray_app::notify::DesktopNotifier;
use tokentray_core::{ErrorClass, Notice, NoticeKind, Span};
use tokentray_runtime::Notifier;
use tokentray_testkit::wait_until;

fn account() -> tokentray_adapters::config::AccountConfig {
    let text = "[[account]]\nid = \"kite-main\"\nlabel = \"Kite\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:5010/cb\"\n";
    Config::parse(text, std::path::Path::new("t.toml")).unwrap().accounts.remove(0)
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
    let a = account();
    notifier.notify(&a, &Notice { kind: NoticeKind::Orange { remaining: Span::minutes(134) } });
    notifier.notify(&a, &Notice { kind: NoticeKind::RefreshFailed { attempts: 3, class: ErrorClass::Transient } });
    notifier.notify(&a, &Notice { kind: NoticeKind::LoginSucceeded });
    let calls_seen = || std::fs::read_to_string(&log).unwrap_or_default().matches("method call").count();
    wait_until("three notifications", Duration::from_secs(10), || calls_seen() >= 3);
    // A duplicate would follow the third within moments; this window proves there is none.
    std::thread::sleep(Duration::from_secs(1));
    drop(monitor);
    let seen = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);

    let calls: Vec<&str> = seen.split("method call").skip(1).collect();
    assert_eq!(calls.len(), 3, "three notifications, each once: {seen}");
    let find = |summary: &str| {
        let matching: Vec<&&str> = calls.iter().filter(|c| c.contains(&format!("string \"{summary}\""))).collect();
        assert_eq!(matching.len(), 1, "{summary:?} arrives once: {seen}");
        *matching[0]
    };
    let orange = find("Kite: log in within 2h 14m");
    assert!(orange.contains("string \"TokenTray\""), "app name: {orange}");
    assert!(orange.contains("Log in before it expires"), "body: {orange}");
    assert!(orange.contains("string \"login\"") && orange.contains("string \"Log in\""), "the Log in action: {orange}");
    assert!(orange.contains("string \"snooze\"") && orange.contains("string \"Snooze 1 h\""), "snooze: {orange}");
    let failed = find("Kite: refresh failed");
    assert!(failed.contains("3 attempt(s) failed"), "{failed}");
    let ok = find("Kite: logged in");
    assert!(!ok.contains("string \"login\""), "no Log in action on success: {ok}");
    assert!(!ok.contains("string \"snooze\""), "nothing to snooze in good news: {ok}");
}

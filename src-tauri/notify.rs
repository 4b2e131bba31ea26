//! Desktop notifications through the freedesktop notification service (or the
//! platform's), with "Log in" and "Snooze 1 h" actions where the server
//! supports actions; on Windows toasts with those buttons (`toast.rs`).

use notify_rust::{Notification, Timeout};
use tokentray_core::{Notice, NoticeKind};
use tokentray_runtime::Notifier;
use tokio::sync::mpsc::UnboundedSender;

/// A notification with no action, shown off the caller's thread.
pub fn show(summary: &str, body: &str) {
    #[cfg(windows)]
    {
        let (summary, body) = (summary.to_owned(), body.to_owned());
        std::thread::spawn(move || crate::toast::plain(&summary, &body));
    }
    #[cfg(not(windows))]
    show_freedesktop(summary, body);
}

#[cfg(not(windows))]
fn show_freedesktop(summary: &str, body: &str) {
    let mut n = Notification::new();
    n.appname("TokenTray").summary(summary).body(body).icon("dialog-information").timeout(Timeout::Default);
    std::thread::spawn(move || {
        if let Err(e) = n.show() {
            tracing::warn!("cannot show a notification: {e}");
        }
    });
}

/// An action clicked in a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clicked {
    /// "Log in" on this account's notification.
    Login(String),
    /// "Snooze 1 h": what can wait is held for an hour.
    Snooze,
}

pub struct DesktopNotifier {
    pub clicks: UnboundedSender<Clicked>,
}

impl Notifier for DesktopNotifier {
    /// Several accounts that need a login at one moment (a laptop that
    /// slept through the morning's cutoff) make one notification, not a
    /// stack; the tray's menu has each one's "Log in".
    fn notify_all(&self, notices: &[(tokentray_runtime::AccountName, Notice)]) {
        let (logins, others): (Vec<_>, Vec<_>) = notices.iter().partition(|(_, n)| n.wants_login());
        for (account, notice) in others {
            self.notify(account, notice);
        }
        match logins.as_slice() {
            [] => {}
            [(account, notice)] => self.notify(account, notice),
            _ => {
                let lines: Vec<String> = logins.iter().map(|(a, n)| n.summary(&a.label)).collect();
                tracing::info!("notify: {} accounts need a login: {}", logins.len(), lines.join("; "));
                show(&format!("{} accounts need a login", logins.len()), &lines.join("\n"));
            }
        }
    }

    fn notify(&self, account: &tokentray_runtime::AccountName, notice: &Notice) {
        let summary = notice.summary(&account.label);
        let body = notice.body();
        tracing::info!(account = %account.id, "notify: {summary}: {body}");
        let mut n = Notification::new();
        n.appname("TokenTray").summary(&summary).body(&body).timeout(Timeout::Default);
        n.icon(match notice.kind {
            NoticeKind::LoginSucceeded => "dialog-information",
            NoticeKind::Orange { .. } => "dialog-warning",
            _ => "dialog-error",
        });
        let wants_login = notice.wants_login();
        if wants_login {
            n.action("login", "Log in");
        }
        // Good news needs no silencing; every warning can be snoozed.
        let snoozable = notice.kind != NoticeKind::LoginSucceeded;
        if snoozable {
            n.action("snooze", "Snooze 1 h");
        }
        let clicks = self.clicks.clone();
        let id = account.id.clone();
        // Windows: a toast whose buttons do the same.
        #[cfg(windows)]
        {
            let _ = n;
            let mut buttons = Vec::new();
            if wants_login {
                buttons.push(("Log in", "login"));
            }
            if snoozable {
                buttons.push(("Snooze 1 h", "snooze"));
            }
            std::thread::spawn(move || {
                crate::toast::show(&summary, &body, &buttons, move |action| {
                    let _ = match action {
                        Some("login") => clicks.send(Clicked::Login(id.clone())),
                        Some("snooze") => clicks.send(Clicked::Snooze),
                        // The toast itself: the account's login, where it wants one.
                        None if wants_login => clicks.send(Clicked::Login(id.clone())),
                        _ => Ok(()),
                    };
                })
            });
        }
        // Showing talks D-Bus and waiting for an action blocks: off the engine's threads.
        #[cfg(not(windows))]
        std::thread::spawn(move || match n.show() {
            Ok(handle) if wants_login || snoozable => {
                #[cfg(all(unix, not(target_os = "macos")))]
                handle.wait_for_action(|action| {
                    let _ = match action {
                        "login" => clicks.send(Clicked::Login(id)),
                        "snooze" => clicks.send(Clicked::Snooze),
                        _ => Ok(()),
                    };
                });
                #[cfg(not(all(unix, not(target_os = "macos"))))]
                let _ = (handle, clicks, id);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot show a notification: {e}"),
        });
    }
}

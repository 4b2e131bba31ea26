//! Telling the user: the notices a lifecycle or reminder emitted go to the
//! notifier (which may merge those of one moment) and to each alert that
//! wants them, unless quiet hours or a snooze hold them (`silence.rs`).

use crate::notices::alerts::message::AlertMessage;
use crate::notices::alerts::AlertOutcome;
use crate::Engine;
use tokentray_adapters::config::alerts::AlertEvent;
use tokentray_core::{Action, NoticeKind};

impl Engine {
    pub(crate) fn dispatch(&self, id: &str, actions: Vec<Action>) {
        self.dispatch_all(vec![(id.to_owned(), actions)]);
    }

    /// The notices of several accounts that came due at one moment, told
    /// together (the notifier may merge them); each alert still gets its own.
    /// Quiet hours and a snooze hold what can wait (`silence.rs`).
    pub(crate) fn dispatch_all(&self, due: Vec<(String, Vec<Action>)>) {
        let now = self.now();
        let mut notices = Vec::new();
        // An engine focused on one account (`exec`) tells of nothing else.
        let focus = self.focused();
        for (id, actions) in due.into_iter().filter(|(id, _)| focus.as_ref().is_none_or(|f| f == id)) {
            let Ok(account) = self.with_slot(&id, |s| s.config.clone()) else { continue };
            for action in actions {
                if let Action::Notify(notice) = action {
                    if !self.held_back(&id, &notice, now) {
                        notices.push((account.clone(), notice));
                    }
                }
            }
        }
        self.deliver(notices);
    }

    /// Tells the user now: the notifier (which may merge them) and each alert.
    pub(crate) fn deliver(&self, notices: Vec<(tokentray_adapters::config::AccountConfig, tokentray_core::Notice)>) {
        for (account, notice) in &notices {
            self.alert(account, notice);
            // Nobody listening is the usual case: no desktop follows this engine.
            let _ = self.told().send(crate::control::NoticeLine {
                account: account.id.clone(),
                label: account.label.clone(),
                notice: notice.clone(),
            });
        }
        let named: Vec<_> = notices.iter().map(|(a, n)| (crate::AccountName::from(a), n.clone())).collect();
        self.tell(&named);
    }

    /// Shows notices on this machine (a server's, followed from here, too).
    pub(crate) fn tell(&self, notices: &[(crate::AccountName, tokentray_core::Notice)]) {
        match notices {
            [] => {}
            [(account, notice)] => self.notifier().notify(account, notice),
            _ => self.notifier().notify_all(notices),
        }
    }

    /// Sends `notice` to the alerts that want it, in the background.
    fn alert(&self, account: &tokentray_adapters::config::AccountConfig, notice: &tokentray_core::Notice) {
        let alerts = self.alerts();
        let Some(event) = AlertEvent::of(&notice.kind) else { return };
        if alerts.configs().is_empty() {
            return;
        }
        let Ok(status) = self.status(&account.id) else { return };
        let token_issued = self.with_slot(&account.id, |s| s.lifecycle.token().map(|m| m.issued_at)).ok().flatten();
        let now = self.now();
        // Reminders come every trading day, twice, whatever the token: each is its own event.
        let occasion = match notice.kind {
            NoticeKind::LoginBeforeOpen { .. } => format!("{} before the open", now.date_naive()),
            NoticeKind::MarketOpen => format!("{} at the open", now.date_naive()),
            NoticeKind::IpNotRegistered { .. } => format!("{} IP before the open", now.date_naive()),
            _ => String::new(),
        };
        let message = AlertMessage {
            account: account.id.clone(),
            label: account.label.clone(),
            provider: account.provider.as_str().to_owned(),
            event,
            level: status.level,
            // A dead or rejected token's expiry is no moment to act by: now is.
            act_by: status.act_by.filter(|_| status.level != tokentray_core::Level::Expired),
            title: notice.summary(&account.label),
            message: notice.body(),
            at: now,
            test: false,
            token_issued,
            occasion,
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return tracing::warn!(account = %account.id, "no async runtime to send alerts from: not sent");
        }
        alerts.send(&message);
    }

    /// Sends a test message to every alert (or the one named), one try
    /// each; `None` when no alert has that name.
    pub async fn test_alerts(&self, name: Option<&str>) -> Option<Vec<AlertOutcome>> {
        let alerts = self.alerts();
        let message = AlertMessage {
            account: String::new(),
            label: "TokenTray".to_owned(),
            provider: String::new(),
            event: AlertEvent::Test,
            level: tokentray_core::Level::Green,
            act_by: None,
            title: "TokenTray: test alert".to_owned(),
            message: "A test from `tokentray alert test`: this alert reaches you. No account is in trouble.".to_owned(),
            at: self.now(),
            test: true,
            token_issued: None,
            occasion: String::new(),
        };
        alerts.test(name, &message).await
    }

    /// Every alert's last result, whichever process sent it.
    pub fn alert_outcomes(&self) -> Vec<AlertOutcome> {
        crate::notices::alerts::outcomes(self.data_dir())
    }
}

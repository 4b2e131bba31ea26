//! Where notices go on this machine: desktop notifications in the tray, the
//! log for the daemon.

use tokentray_adapters::config::AccountConfig;
use tokentray_core::Notice;

/// Whom a notice is about, as people see it: an account here, or a
/// server's account followed from this desktop (`kite@vps`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountName {
    pub id: String,
    pub label: String,
}

impl From<&AccountConfig> for AccountName {
    fn from(account: &AccountConfig) -> Self {
        Self { id: account.id.clone(), label: account.label.clone() }
    }
}

/// Tells the user something. The desktop sends desktop notifications; the
/// headless daemon writes them to its log.
pub trait Notifier: Send + Sync + 'static {
    fn notify(&self, account: &AccountName, notice: &Notice);

    /// Notices that came due at one moment (after a resume from suspend,
    /// several accounts at once): a desktop may merge them into one
    /// notification rather than a stack. Each by itself unless overridden.
    fn notify_all(&self, notices: &[(AccountName, Notice)]) {
        for (account, notice) in notices {
            self.notify(account, notice);
        }
    }
}

/// Notices as log lines (the daemon's log, or stderr).
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn notify(&self, account: &AccountName, notice: &Notice) {
        let summary = notice.summary(&account.label);
        let body = notice.body();
        if notice.wants_login() {
            tracing::warn!(account = %account.id, "{summary}. {body}");
        } else {
            tracing::info!(account = %account.id, "{summary}. {body}");
        }
    }
}

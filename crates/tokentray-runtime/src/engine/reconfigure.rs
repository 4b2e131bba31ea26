//! A new config applied to a running engine: accounts come and go, changed
//! ones keep their token.

use super::http_timeout;
use super::Slot;
use crate::plumbing::mutex::lock;
use crate::{Engine, EventKind};
use tokentray_adapters::config::Config;
use tokentray_adapters::provider::{http_client, ProviderClient};

impl Engine {
    /// Applies a new config: new accounts start, removed ones stop (their
    /// secrets stay in the keyring), changed ones keep their token.
    pub fn apply_config(&self, config: Config) {
        let now = self.now();
        let saved = self.state_file().load().unwrap_or_default();
        let old = self.config();
        // The secret store is opened once, at the start.
        if (old.storage, &old.vault) != (config.storage, &config.vault) {
            tracing::warn!(
                "the storage settings changed: restart TokenTray to use them (it keeps the store it started with)"
            );
        }
        let timeout_changed = config.http_timeout != self.config().http_timeout;
        let http = {
            let mut http = lock(&self.inner.http);
            if timeout_changed {
                *http = http_client(http_timeout(&config));
            }
            http.clone()
        };
        let mut key_changed = Vec::new();
        {
            let mut slots = self.slots();
            slots.retain(|id, _| config.account(id).is_some());
            for account in &config.accounts {
                let plan = account.market.plan(&config.calendar);
                match slots.get_mut(&account.id) {
                    Some(slot) => {
                        if slot.config.api_key != account.api_key {
                            key_changed.push(account.id.clone());
                        }
                        if slot.config != *account || timeout_changed {
                            slot.client = ProviderClient::new(account.clone(), http.clone());
                            slot.lifecycle.set_policy(account.policy(), now);
                            slot.config = account.clone();
                        }
                        // An unchanged plan keeps what it has reminded of today.
                        if slot.reminder.as_ref().map(|r| r.plan()) != plan.as_ref() {
                            slot.reminder = plan.map(tokentray_core::Reminder::new);
                        }
                    }
                    None => {
                        let st = saved.accounts.get(&account.id).cloned().unwrap_or_default();
                        let reminder = plan.map(tokentray_core::Reminder::new);
                        slots.insert(account.id.clone(), Slot::restore(account.clone(), reminder, &http, &st, now));
                    }
                }
            }
        }
        let alerts = crate::notices::alerts::Alerts::new(
            config.alerts.clone(),
            self.inner.store.clone(),
            http,
            &self.inner.data_dir,
            self.inner.clock.clone(),
        );
        lock(&self.inner.alerts).retire();
        *lock(&self.inner.alerts) = std::sync::Arc::new(alerts);
        *lock(&self.inner.config) = config;
        // Another api key: the credentials the broker refused are not these.
        if let (false, Ok(runtime)) = (key_changed.is_empty(), tokio::runtime::Handle::try_current()) {
            let engine = self.clone();
            runtime.spawn(async move {
                for id in key_changed {
                    if let Err(e) = engine.credentials_changed(&id, crate::Credential::ApiKey).await {
                        tracing::warn!(account = %id, "cannot reset the refused-credentials count: {e}");
                    }
                }
            });
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            self.refollow_servers();
        }
        self.publish("", EventKind::ConfigReloaded);
        self.inner.wake.notify_one();
    }
}

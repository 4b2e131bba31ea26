//! Alerts that reach a trader away from the desk (`[[alert]]`): each notice
//! the engine gives goes, besides the desktop, to every alert that wants its
//! event and account. Each is sent once, in the background (the engine never
//! waits for a phone), retried with backoff through a service's trouble,
//! and its last result is kept in `alerts.json` in the data directory, where
//! `status` and the window of every process read it.

pub mod channel;
pub mod message;

use channel::AlertError;
use message::AlertMessage;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokentray_adapters::alert_config::AlertConfig;
use tokentray_adapters::store::{SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_core::Instant;

/// Tries per alert and event: about half a minute of a service's trouble
/// (2, 4, 8 and 16 s between them), longer when it asks for a longer wait.
pub const ATTEMPTS: u32 = 5;
const FIRST_WAIT: Duration = Duration::from_secs(2);
/// The longest wait a service's `Retry-After` is granted.
const LONGEST_WAIT: Duration = Duration::from_secs(600);

/// How one alert's last sending went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertOutcome {
    pub name: String,
    /// `webhook`, `ntfy`, `telegram` or `command`.
    pub kind: String,
    pub event: String,
    pub account: String,
    pub at: Instant,
    pub delivered: bool,
    pub attempts: u32,
    /// Why it was not delivered (or why an attempt before the last failed).
    pub error: Option<String>,
}

/// The alerts of one config, and what they need to send.
pub struct Alerts {
    configs: Vec<AlertConfig>,
    store: Arc<dyn SecretStore>,
    http: reqwest::Client,
    data_dir: PathBuf,
    /// One writer of `alerts.json` at a time in this process.
    record: Mutex<()>,
}

impl Alerts {
    pub fn new(configs: Vec<AlertConfig>, store: Arc<dyn SecretStore>, http: reqwest::Client, data_dir: &Path) -> Self {
        Self { configs, store, http, data_dir: data_dir.to_owned(), record: Mutex::new(()) }
    }

    pub fn configs(&self) -> &[AlertConfig] {
        &self.configs
    }

    /// Sends `message` to every alert that wants it, each in a task of its
    /// own: a slow or failing channel holds up neither the engine nor the others.
    pub fn send(self: &Arc<Self>, message: &AlertMessage) {
        for alert in self.configs.iter().filter(|a| wants(a, message)) {
            let (alerts, alert, message) = (self.clone(), alert.clone(), message.clone());
            tokio::spawn(async move {
                let outcome = alerts.deliver(&alert, &message, ATTEMPTS).await;
                alerts.record(&outcome);
            });
        }
    }

    /// Sends a test message to every alert (or the one named) now, one try
    /// each, and says how each went. `None` when no alert has that name.
    pub async fn test(&self, name: Option<&str>, message: &AlertMessage) -> Option<Vec<AlertOutcome>> {
        let chosen: Vec<&AlertConfig> = self.configs.iter().filter(|a| name.is_none_or(|n| a.name == n)).collect();
        if name.is_some() && chosen.is_empty() {
            return None;
        }
        let sends = chosen.into_iter().map(|alert| self.deliver(alert, message, 1));
        let outcomes = futures_util::future::join_all(sends).await;
        for outcome in &outcomes {
            self.record(outcome);
        }
        Some(outcomes)
    }

    /// Up to `attempts` tries, waiting between them; stops at a refusal
    /// that only the user can fix.
    async fn deliver(&self, alert: &AlertConfig, message: &AlertMessage, attempts: u32) -> AlertOutcome {
        let secret = self.secret(&alert.name).await;
        let mut outcome = AlertOutcome {
            name: alert.name.clone(),
            kind: alert.channel.kind().to_owned(),
            event: message.event.as_str().to_owned(),
            account: message.account.clone(),
            at: message.at,
            delivered: false,
            attempts: 0,
            error: None,
        };
        let secret = match secret {
            Ok(secret) => secret,
            Err(why) => {
                outcome.error = Some(why);
                return outcome;
            }
        };
        let mut wait = FIRST_WAIT;
        while outcome.attempts < attempts {
            outcome.attempts += 1;
            match channel::deliver(&alert.channel, message, secret.as_ref(), &self.http).await {
                Ok(()) => {
                    outcome.delivered = true;
                    outcome.error = None;
                    break;
                }
                Err(AlertError::Refused(why)) => {
                    outcome.error = Some(refused_help(alert, &why));
                    break;
                }
                Err(AlertError::Failed { why, retry_after }) => {
                    tracing::warn!(alert = %alert.name, attempt = outcome.attempts, "alert not delivered: {why}");
                    outcome.error = Some(why);
                    if outcome.attempts < attempts {
                        let asked = retry_after.map(|w| w.min(LONGEST_WAIT));
                        tokio::time::sleep(asked.unwrap_or_else(|| jittered(wait))).await;
                        wait = (wait * 2).min(LONGEST_WAIT);
                    }
                }
            }
        }
        match &outcome.error {
            None => {
                tracing::info!(alert = %alert.name, event = %outcome.event, account = %outcome.account, "alert sent")
            }
            Some(why) => {
                tracing::error!(alert = %alert.name, "alert not delivered after {} attempt(s): {why}", outcome.attempts)
            }
        }
        outcome
    }

    /// The alert's secret from the store (a bot token, an access token, a
    /// signing key), read off the async threads: a keyring read blocks.
    async fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
        let (store, name) = (self.store.clone(), name.to_owned());
        let read = tokio::task::spawn_blocking(move || store.get(&name, SecretItem::AlertSecret)).await;
        match read {
            Ok(Ok(secret)) => Ok(secret),
            Ok(Err(e)) => Err(format!("cannot read the alert's secret: {e}")),
            Err(e) => Err(format!("cannot read the alert's secret: {e}")),
        }
    }

    /// Keeps `outcome` as its alert's last result, for every process to read.
    fn record(&self, outcome: &AlertOutcome) {
        let _one_writer = self.record.lock().unwrap_or_else(|e| e.into_inner());
        let mut all = outcomes(&self.data_dir);
        all.retain(|o| o.name != outcome.name);
        all.push(outcome.clone());
        all.sort_by(|a, b| a.name.cmp(&b.name));
        let text = serde_json::to_vec_pretty(&all).expect("outcomes serialize");
        if let Err(e) = tokentray_adapters::atomic::write_private(&file(&self.data_dir), &text) {
            tracing::warn!("cannot record the alert's result: {e}");
        }
    }
}

/// Whether `alert` is for this message's event and account (a test is for every alert).
fn wants(alert: &AlertConfig, message: &AlertMessage) -> bool {
    alert.events.contains(&message.event) && alert.accounts.as_ref().is_none_or(|ids| ids.contains(&message.account))
}

/// A refusal with what fixes it, where the channel tells.
fn refused_help(alert: &AlertConfig, why: &str) -> String {
    use tokentray_adapters::alert_config::Channel;
    match alert.channel {
        Channel::Telegram { .. }
            if why.contains("no bot token") || why.starts_with("HTTP 401") || why.starts_with("HTTP 404") =>
        {
            format!("{why}; set the bot token with `tokentray secret set --alert {}`", alert.name)
        }
        Channel::Ntfy { .. } if why.starts_with("HTTP 401") || why.starts_with("HTTP 403") => {
            format!("{why}; set the topic's access token with `tokentray secret set --alert {}`", alert.name)
        }
        _ => why.to_owned(),
    }
}

/// `wait` give or take a fifth, so that many alerts retry apart.
fn jittered(wait: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    let fifth = wait / 5;
    wait - fifth + fifth * 2 * u32::from(byte[0]) / 255
}

fn file(data_dir: &Path) -> PathBuf {
    data_dir.join("alerts.json")
}

/// Every alert's last result, as recorded by whichever process sent it.
pub fn outcomes(data_dir: &Path) -> Vec<AlertOutcome> {
    let text = tokentray_adapters::atomic::read_regular(&file(data_dir), 1024 * 1024).ok().flatten();
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

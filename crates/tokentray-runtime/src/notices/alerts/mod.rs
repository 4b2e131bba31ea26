//! Alerts that reach a trader away from the desk (`[[alert]]`): each notice
//! the engine gives goes, besides the desktop, to every alert that wants its
//! event and account. Each is sent once per event and token, also across
//! restarts and processes (the keys sent are kept in `alerts.json`), in the
//! background (the engine never waits for a phone), retried with backoff
//! through a service's trouble; its last result is kept in `alerts.json` in
//! the data directory, where `status` and the window of every process read it.

pub mod channel;
pub mod message;

use channel::AlertError;
use message::AlertMessage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokentray_adapters::config::alerts::{AlertConfig, Channel};
use tokentray_adapters::store::{SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_core::{Instant, Span};

/// Tries per alert and event: about half a minute of a service's trouble
/// (2, 4, 8 and 16 s between them), longer when it asks for a longer wait.
pub const ATTEMPTS: u32 = 5;
const FIRST_WAIT: Duration = Duration::from_secs(2);
/// The longest wait a service's `Retry-After` is granted.
const LONGEST_WAIT: Duration = Duration::from_secs(600);
/// How long what was sent is remembered (a token lives at most a week
/// without a login): an event is sent once, also after a restart.
const REMEMBER: Span = Span::days(8);

/// How one alert's last sending went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertOutcome {
    pub name: String,
    /// `webhook`, `ntfy`, `telegram` or `command`.
    pub kind: String,
    /// The event sent (`test` for `tokentray alert test`).
    pub event: String,
    pub account: String,
    pub at: Instant,
    pub delivered: bool,
    pub attempts: u32,
    /// Why it was not delivered.
    pub error: Option<String>,
}

/// `alerts.json`: each alert's last result, and what was sent when.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    #[serde(default)]
    outcomes: Vec<AlertOutcome>,
    /// `alert|account|event|token issued at` → when it was sent.
    #[serde(default)]
    sent: BTreeMap<String, Instant>,
}

/// One writer of `alerts.json` at a time in this process, whichever
/// `Alerts` (a reload makes a new one) writes.
static RECORD: Mutex<()> = Mutex::new(());

/// Sends in flight in this process, which a stop (and a one-shot command's
/// exit) waits for.
static IN_FLIGHT: Mutex<usize> = Mutex::new(0);
static SETTLED: tokio::sync::Notify = tokio::sync::Notify::const_new();

struct Sending;

impl Sending {
    fn begin() -> Self {
        *IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Sending
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        let mut n = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        if *n == 0 {
            SETTLED.notify_waiters();
        }
    }
}

/// Waits (up to `limit`) for the alerts being sent: a one-shot command
/// that noticed a rejected token must not exit before saying so.
pub async fn settle(limit: Duration) {
    let _ = tokio::time::timeout(limit, async {
        loop {
            let settled = SETTLED.notified();
            if *IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()) == 0 {
                return;
            }
            settled.await;
        }
    })
    .await;
}

/// The alerts of one config, and what they need to send.
pub struct Alerts {
    configs: Vec<AlertConfig>,
    store: Arc<dyn SecretStore>,
    http: reqwest::Client,
    data_dir: PathBuf,
    /// Replaced by a new config: its sends stop retrying.
    retired: AtomicBool,
    /// When a message is sent (a webhook signs the time it was sent at).
    clock: Arc<dyn crate::Clock>,
}

impl Alerts {
    pub fn new(
        configs: Vec<AlertConfig>,
        store: Arc<dyn SecretStore>,
        http: reqwest::Client,
        data_dir: &Path,
        clock: Arc<dyn crate::Clock>,
    ) -> Self {
        Self { configs, store, http, data_dir: data_dir.to_owned(), retired: AtomicBool::new(false), clock }
    }

    pub fn configs(&self) -> &[AlertConfig] {
        &self.configs
    }

    /// This config's alerts are no longer the config's: no more retries.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Relaxed);
    }

    /// Sends `message` to every alert that wants it and has not had it yet,
    /// each in a task of its own: a slow or failing channel holds up neither
    /// the engine nor the others.
    pub fn send(self: &Arc<Self>, message: &AlertMessage) {
        for alert in self.configs.iter().filter(|a| wants(a, message)) {
            let (alerts, alert, message) = (self.clone(), alert.clone(), message.clone());
            let sending = Sending::begin();
            tokio::spawn(async move {
                let _sending = sending;
                if !alerts.first_time(&alert, &message).await {
                    return tracing::debug!(alert = %alert.name, "already sent: {}", message.title);
                }
                let outcome = alerts.deliver(&alert, &message, ATTEMPTS).await;
                alerts.record(outcome).await;
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
            self.record(outcome.clone()).await;
        }
        Some(outcomes)
    }

    /// Up to `attempts` tries, waiting between them; stops at a refusal
    /// that only the user can fix, and when a new config replaced this one.
    async fn deliver(&self, alert: &AlertConfig, message: &AlertMessage, attempts: u32) -> AlertOutcome {
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
        let secret = match &alert.channel {
            Channel::Command { .. } => Ok(None),
            _ => self.secret(&alert.name).await,
        };
        let secret = match secret {
            Ok(secret) => secret,
            Err(why) => {
                outcome.error = Some(why);
                return outcome;
            }
        };
        let mut wait = FIRST_WAIT;
        while outcome.attempts < attempts && !self.retired.load(Ordering::Relaxed) {
            outcome.attempts += 1;
            match channel::deliver(&alert.channel, message, secret.as_ref(), &self.http, self.clock.now()).await {
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

    /// Whether this alert has yet to send this event about this token; if
    /// so, it is marked as sent (a failed sending is not sent twice either:
    /// its result says it failed).
    async fn first_time(&self, alert: &AlertConfig, message: &AlertMessage) -> bool {
        let issued = message.token_issued.map(|t| t.to_rfc3339()).unwrap_or_default();
        let key =
            format!("{}|{}|{}|{issued}|{}", alert.name, message.account, message.event.as_str(), message.occasion);
        let now = message.at;
        self.update(move |record| {
            record.sent.retain(|_, at| *at > now - REMEMBER);
            record.sent.insert(key, now).is_none()
        })
        .await
        .unwrap_or(true)
    }

    /// Keeps `outcome` as its alert's last result, for every process to read;
    /// results of alerts no longer in the config go.
    async fn record(&self, outcome: AlertOutcome) {
        if self.retired.load(Ordering::Relaxed) {
            return;
        }
        let names: Vec<String> = self.configs.iter().map(|a| a.name.clone()).collect();
        self.update(move |record| {
            record.outcomes.retain(|o| o.name != outcome.name && names.contains(&o.name));
            record.outcomes.push(outcome);
            record.outcomes.sort_by(|a, b| a.name.cmp(&b.name));
        })
        .await;
    }

    /// Reads, changes and writes `alerts.json` under the process's lock, off
    /// the async threads (it is fsync'd).
    async fn update<T: Send + 'static>(&self, change: impl FnOnce(&mut Record) -> T + Send + 'static) -> Option<T> {
        let path = file(&self.data_dir);
        let written = tokio::task::spawn_blocking(move || {
            let _one_writer = RECORD.lock().unwrap_or_else(|e| e.into_inner());
            let mut record = read_record(&path);
            let result = change(&mut record);
            let text = serde_json::to_vec_pretty(&record).expect("the record serializes");
            tokentray_adapters::atomic::write_private(&path, &text).map(|()| result)
        })
        .await;
        match written {
            Ok(Ok(result)) => Some(result),
            Ok(Err(e)) => {
                tracing::warn!("cannot record the alerts' results: {e}");
                None
            }
            Err(e) => {
                tracing::warn!("cannot record the alerts' results: {e}");
                None
            }
        }
    }
}

/// Whether `alert` is for this message's event and account.
fn wants(alert: &AlertConfig, message: &AlertMessage) -> bool {
    alert.events.contains(&message.event) && alert.accounts.as_ref().is_none_or(|ids| ids.contains(&message.account))
}

/// A refusal with what fixes it, where the channel tells.
fn refused_help(alert: &AlertConfig, why: &str) -> String {
    let set = format!("tokentray secret set --alert {}", alert.name);
    match alert.channel {
        Channel::Telegram { .. }
            if why.contains("no bot token") || why.starts_with("HTTP 401") || why.starts_with("HTTP 404") =>
        {
            format!("{why}; set the bot token with `{set}`")
        }
        Channel::Ntfy { .. } if why.starts_with("HTTP 401") || why.starts_with("HTTP 403") => {
            format!("{why}; set the topic's access token with `{set}`")
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

fn read_record(path: &Path) -> Record {
    let text = tokentray_adapters::atomic::read_regular(path, 4 * 1024 * 1024).ok().flatten();
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

/// Every alert's last result, as recorded by whichever process sent it.
pub fn outcomes(data_dir: &Path) -> Vec<AlertOutcome> {
    read_record(&file(data_dir)).outcomes
}

//! One account inside the engine: its config, provider client, lifecycle,
//! cached secrets and what was last shown, kept together under the engine's
//! one lock.

use super::status::{countdown_text, message, AccountStatus, SinkStatus};
use std::sync::Arc;
use tokentray_adapters::config::AccountConfig;
use tokentray_adapters::provider::{Grant, ProviderClient, UserInfo};
use tokentray_adapters::sinks::SinkValues;
use tokentray_adapters::store::state::AccountState;
use tokentray_adapters::store::TokenSet;
use tokentray_core::{Event, Instant, Level, Lifecycle, Reminder, State};
use tokio::sync::Notify;

/// Outcome counts, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub refresh_ok: u64,
    pub refresh_failed: u64,
    pub validation_ok: u64,
    pub validation_failed: u64,
}

pub(crate) struct Slot {
    pub config: AccountConfig,
    pub client: ProviderClient,
    pub lifecycle: Lifecycle,
    /// The pre-market reminder, for an account on an exchange's calendar.
    pub reminder: Option<Reminder>,
    /// The secrets, once read: the keyring is asked once per process, not per use.
    pub tokens: Option<TokenSet>,
    pub user: UserInfo,
    pub last_error_message: Option<String>,
    /// Bumped whenever the token is replaced; single-flight refreshes compare it.
    pub generation: u64,
    /// Renewal attempts finished, whatever their result: a caller that
    /// waited for another's attempt takes its result instead of calling again.
    pub refresh_attempts: u64,
    /// One refresh at a time per account in this process.
    pub gate: Arc<tokio::sync::Mutex<()>>,
    /// What was last published, to publish only changes.
    pub shown: (State, Level),
    /// The login in progress; a newer login signals it to give up.
    pub login: Option<Arc<Notify>>,
    /// Where that login takes a pasted address, when it waits for one.
    pub paste: Option<tokio::sync::mpsc::Sender<crate::login::Pasted>>,
    pub sinks: Vec<SinkStatus>,
    pub counters: Counters,
    /// A grant the secret store refused, served from memory and kept in the
    /// journal while the store write is retried.
    pub pending: Option<Grant>,
    /// Since when a grant waits to be saved (this process's, or another's per the state file).
    pub pending_since: Option<Instant>,
    /// One provider check at a time; reports that arrive meanwhile share it.
    pub check_gate: Arc<tokio::sync::Mutex<()>>,
    /// One round of sink writes at a time: a retry for an older token and
    /// the write of a newer one, each waiting on a reader, must not end
    /// with the older token in the file.
    pub sinks_gate: Arc<tokio::sync::Mutex<()>>,
    pub checks_done: u64,
    /// Why the last check could not tell (the provider unreachable), if it could not.
    pub last_check_unknown: Option<String>,
    /// When a refresh was last asked for from outside (the API), for its rate limit.
    pub manual_refresh_at: Option<Instant>,
}

/// What the account's sinks are written from, read under the lock and
/// written outside it.
pub(crate) struct SinkInputs {
    pub account: AccountConfig,
    pub tokens: TokenSet,
    pub user_id: Option<String>,
    pub expires_at: Option<Instant>,
}

impl SinkInputs {
    pub fn values(&self) -> SinkValues<'_> {
        SinkValues {
            account: &self.account.id,
            access_token: &self.tokens.access_token,
            feed_token: self.tokens.feed_token.as_ref(),
            token_secret: self.tokens.token_secret.as_ref(),
            api_key: &self.account.api_key,
            // The broker's word first; the configured id (Dhan's client id) until it has spoken.
            user_id: self.user_id.as_deref().or(self.account.user_id.as_deref()),
            expires_at: self.expires_at,
        }
    }
}

pub(crate) fn merge_user(old: &UserInfo, new: UserInfo) -> UserInfo {
    UserInfo { user_id: new.user_id.or(old.user_id.clone()), user_name: new.user_name.or(old.user_name.clone()) }
}

impl Slot {
    /// What the sinks are written from, if there is a token and a sink.
    pub(crate) fn sink_inputs(&self) -> Option<SinkInputs> {
        let tokens = self.tokens.clone().filter(|_| !self.config.sinks.is_empty())?;
        Some(SinkInputs {
            account: self.config.clone(),
            tokens,
            user_id: self.user.user_id.clone(),
            expires_at: self.lifecycle.token().map(|m| m.expires_at),
        })
    }

    pub(crate) fn restore(
        account: AccountConfig,
        reminder: Option<Reminder>,
        http: &reqwest::Client,
        saved: &AccountState,
        now: tokentray_core::Instant,
    ) -> Self {
        let mut lifecycle = Lifecycle::new(&account.id, account.policy());
        if let Some(meta) = saved.token {
            let restored = Event::Restored { meta, validated_at: saved.last_validated, standing: saved.standing };
            lifecycle.handle(restored, now, &mut Vec::new());
        }
        let shown = (lifecycle.state(now), lifecycle.level(now));
        Self {
            client: ProviderClient::new(account.clone(), http.clone()),
            config: account,
            lifecycle,
            reminder,
            tokens: None,
            user: UserInfo { user_id: saved.user_id.clone(), user_name: saved.user_name.clone() },
            last_error_message: saved.last_error_message.clone(),
            generation: 0,
            refresh_attempts: 0,
            gate: Arc::new(tokio::sync::Mutex::new(())),
            shown,
            login: None,
            paste: None,
            sinks: saved.sinks.clone(),
            counters: Counters::default(),
            pending: None,
            pending_since: saved.pending_save,
            check_gate: Arc::new(tokio::sync::Mutex::new(())),
            sinks_gate: Arc::new(tokio::sync::Mutex::new(())),
            checks_done: 0,
            last_check_unknown: None,
            manual_refresh_at: None,
        }
    }

    pub(crate) fn status(&self, now: tokentray_core::Instant) -> AccountStatus {
        let s = self.lifecycle.status(now);
        AccountStatus {
            id: self.config.id.clone(),
            label: self.config.label.clone(),
            provider: self.config.provider,
            state: s.state,
            level: s.level,
            countdown: countdown_text(&s),
            message: message(&s, &self.config.credentials_trouble(), self.pending_since, now),
            act_by: s.act_by,
            remaining_seconds: s.remaining.map(|r| r.num_seconds()),
            expires_at: s.expires_at,
            login_at: s.login_at,
            auto_refresh: s.auto_refresh,
            retry_at: s.retry_at,
            pending_save: self.pending_since,
            user_id: self.user.user_id.clone(),
            user_name: self.user.user_name.clone(),
            last_validated: s.last_validated,
            last_error: s.last_error,
            last_error_message: self.last_error_message.clone(),
            sinks: self.sinks.clone(),
            remote: None,
        }
    }
}

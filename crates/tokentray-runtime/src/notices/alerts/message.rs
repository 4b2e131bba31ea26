//! What an alert says, the same for every channel: the account, the event,
//! the colour, the moment to act by and a sentence for people. Never a token.

use serde::Serialize;
use tokentray_adapters::config::alerts::AlertEvent;
use tokentray_core::{Instant, Level};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertMessage {
    /// The account's id, as the config and the CLI name it.
    pub account: String,
    /// The account as people call it.
    pub label: String,
    /// The broker, as the config names it (`kite`, `schwab`, ...).
    pub provider: String,
    pub event: AlertEvent,
    pub level: Level,
    /// When a login is due; `None` when none will be.
    pub act_by: Option<Instant>,
    /// One line (`Kite: log in within 45m`).
    pub title: String,
    /// What happened and what to do.
    pub message: String,
    pub at: Instant,
    /// Sent by `tokentray alert test`: no account is in trouble.
    pub test: bool,
    /// When the token it is about was issued: an event is sent once per
    /// token (not a secret, but of no use to a receiver).
    #[serde(skip)]
    pub token_issued: Option<Instant>,
    /// What else makes an event a new one: a reminder's day and moment
    /// (before the open, at it), each of which is sent once.
    #[serde(skip)]
    pub occasion: String,
}

impl AlertMessage {
    /// The sentence, and the moment to act by when there is one.
    pub fn body(&self) -> String {
        let act_by = self
            .act_by
            .map(|t| format!(" Act by {}.", t.with_timezone(&chrono::Local).format("%a %d %b %H:%M (UTC%:z)")))
            .unwrap_or_default();
        format!("{}{act_by}", self.message)
    }

    /// The title and the body as one text (Telegram).
    pub fn text(&self) -> String {
        format!("{}\n{}", self.title, self.body())
    }

    /// ntfy's priority: 5 when scripts fail now, 4 red, 3 orange or an outage, 2 good news.
    pub fn priority(&self) -> u8 {
        match self.event {
            AlertEvent::Expired | AlertEvent::LoginNeeded | AlertEvent::TokenRevoked => 5,
            AlertEvent::Red | AlertEvent::MarketReminder => 4,
            AlertEvent::Orange | AlertEvent::RefreshFailing => 3,
            AlertEvent::LoginDone | AlertEvent::Test => 2,
        }
    }

    /// ntfy's tags: its emoji shortcodes and the event.
    pub fn tags(&self) -> Vec<&'static str> {
        let emoji = match self.event {
            AlertEvent::Expired | AlertEvent::LoginNeeded | AlertEvent::TokenRevoked => "rotating_light",
            AlertEvent::Red | AlertEvent::Orange => "warning",
            AlertEvent::MarketReminder => "alarm_clock",
            AlertEvent::RefreshFailing => "hourglass",
            AlertEvent::LoginDone | AlertEvent::Test => "white_check_mark",
        };
        vec![emoji, self.event.as_str()]
    }
}

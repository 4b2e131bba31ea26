//! How a login took a callback or a pasted address: one verdict, shown to a
//! browser as a page and told to whoever pasted the address as a
//! [`PasteOutcome`].

use super::page::Page;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// What a pasted address came to, for the window or the terminal that pasted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PasteOutcome {
    /// The login took it: the account is logged in.
    LoggedIn,
    /// Not the address a browser lands on; the login still waits.
    NotAnAddress,
    /// The login did not take it (another attempt's, no code); it still waits.
    Refused { why: String },
    /// The login ended with it: the broker refused the login, or its token
    /// could not be had or kept.
    Ended { why: String },
}

impl PasteOutcome {
    /// Why it did not log in, in words; `None` when it did.
    pub fn refusal(&self) -> Option<String> {
        match self {
            Self::LoggedIn => None,
            Self::NotAnAddress => Some(NOT_AN_ADDRESS.to_owned()),
            Self::Refused { why } | Self::Ended { why } => Some(why.clone()),
        }
    }
}

const NOT_AN_ADDRESS: &str = "that is not the address the browser landed on; paste the whole address";

/// The login's answer to one callback.
pub(super) enum Verdict {
    LoggedIn(String),
    NotAnAddress,
    /// Refused; the login still waits for the right one.
    Refused(String),
    /// The provider refused the login: nothing changed.
    Denied(String),
    /// The exchange failed, or the token could not be stored.
    Failed {
        status: StatusCode,
        title: &'static str,
        text: String,
    },
    /// A code already taken, arriving again while it is exchanged.
    Spent,
}

impl Verdict {
    pub(super) fn page(&self) -> Page {
        match self {
            Self::LoggedIn(text) => Page::new(StatusCode::OK, "Logged in", text.clone()),
            Self::NotAnAddress => Page::new(StatusCode::BAD_REQUEST, "Not a login address", NOT_AN_ADDRESS),
            Self::Refused(text) => Page::new(StatusCode::BAD_REQUEST, "Refused", text.clone()),
            Self::Denied(text) => Page::new(StatusCode::BAD_REQUEST, "Login refused", text.clone()),
            Self::Failed { status, title, text } => Page::new(*status, title, text.clone()),
            Self::Spent => Page::new(
                StatusCode::CONFLICT,
                "Already used",
                "This login already received its code; a code works only once.",
            ),
        }
    }

    pub(super) fn outcome(&self) -> PasteOutcome {
        match self {
            Self::LoggedIn(_) => PasteOutcome::LoggedIn,
            Self::NotAnAddress => PasteOutcome::NotAnAddress,
            Self::Refused(why) => PasteOutcome::Refused { why: why.clone() },
            Self::Spent => PasteOutcome::Refused { why: "this login already received its code".to_owned() },
            Self::Denied(why) => PasteOutcome::Ended { why: why.clone() },
            Self::Failed { title, text, .. } => PasteOutcome::Ended { why: format!("{title}: {text}") },
        }
    }
}

//! What to tell the user, in words: each notice's summary and body for a
//! notification, and whether a login is what it asks for.

use crate::{format_countdown, ErrorClass, Span};
use serde::{Deserialize, Serialize};

/// Something the user should be told once: a threshold crossed, a failure that
/// needs them, a login that worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoticeKind {
    /// Less than the orange threshold is left before the user must act.
    Orange {
        remaining: Span,
    },
    Red {
        remaining: Span,
    },
    /// The moment to act has passed: the token is dead.
    Expired,
    /// Renewal failed for good; `class` says why the last attempt did.
    RefreshFailed {
        attempts: u32,
        class: ErrorClass,
    },
    /// Refreshes keep failing through an outage; TokenTray keeps retrying.
    /// `remaining` is how long the current token still works, if it does.
    RefreshRetrying {
        class: ErrorClass,
        retry_in: Span,
        remaining: Option<Span>,
    },
    /// The provider rejected a token that should still work: a login
    /// elsewhere or a logout at the broker ended it.
    TokenRejected,
    /// The secret store refused a new token; TokenTray serves it from memory
    /// and retries the save (the runtime says this, not the lifecycle).
    NotSaved,
    /// Only a login can bring a working token back. `remaining` is how long the
    /// current token still works, if it does.
    LoginNeeded {
        remaining: Option<Span>,
    },
    LoginSucceeded,
    /// A trading day's reminder: the market opens in `opens_in` and the
    /// account has no token that lasts its session.
    LoginBeforeOpen {
        opens_in: Span,
    },
    /// The market has opened and the account still has no such token.
    MarketOpen,
    /// Before the open: the token works, but this machine's IP is not one
    /// the broker registered, so its orders will be refused (2026's
    /// static-IP rule). A login does not fix it.
    IpNotRegistered {
        opens_in: Span,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub kind: NoticeKind,
}

impl Notice {
    /// The notification's title, naming the account as people call it.
    pub fn summary(&self, account: &str) -> String {
        match self.kind {
            NoticeKind::Orange { remaining } | NoticeKind::Red { remaining } => {
                format!("{account}: log in within {}", format_countdown(remaining))
            }
            NoticeKind::Expired => format!("{account}: token expired"),
            NoticeKind::RefreshFailed { .. } => format!("{account}: refresh failed"),
            NoticeKind::RefreshRetrying { .. } => format!("{account}: broker unreachable, retrying"),
            NoticeKind::TokenRejected => format!("{account}: login needed"),
            NoticeKind::NotSaved => format!("{account}: new token not saved"),
            NoticeKind::LoginNeeded { .. } => format!("{account}: login needed"),
            NoticeKind::LoginSucceeded => format!("{account}: logged in"),
            NoticeKind::LoginBeforeOpen { .. } => format!("{account}: log in before the market opens"),
            NoticeKind::MarketOpen => format!("{account}: market open, log in"),
            NoticeKind::IpNotRegistered { .. } => format!("{account}: orders from this IP will be refused"),
        }
    }

    pub fn body(&self) -> String {
        match self.kind {
            NoticeKind::Orange { .. } => {
                "The token cannot be renewed without you. Log in before it expires.".to_owned()
            }
            NoticeKind::Red { .. } => {
                "Less than the red threshold is left. Scripts using this account will fail when it expires.".to_owned()
            }
            NoticeKind::Expired => "Scripts using this account are failing now. Log in to get a new token.".to_owned(),
            NoticeKind::RefreshFailed { attempts, class: ErrorClass::CredentialsWrong } => format!(
                "{attempts} attempt(s) failed: {}. A login does not fix this: store the right secret with \
                 `tokentray secret set`.",
                ErrorClass::CredentialsWrong.describe()
            ),
            NoticeKind::RefreshFailed { attempts, class } => {
                format!("{attempts} attempt(s) failed: {}.", class.describe())
            }
            NoticeKind::RefreshRetrying { class, retry_in, remaining } => {
                let works = match remaining {
                    Some(r) => format!("The current token works for {} more.", format_countdown(r)),
                    None => "The current token has expired.".to_owned(),
                };
                format!("{}; retrying in {}. {works}", capitalised(class.describe()), format_countdown(retry_in))
            }
            NoticeKind::NotSaved => "The secret store refused the new token. TokenTray serves it and keeps trying \
                                      to save it; unlock the keyring if it is locked."
                .to_owned(),
            NoticeKind::TokenRejected => {
                "The broker ended this token (a login elsewhere or a logout does that). Log in again.".to_owned()
            }
            NoticeKind::LoginNeeded { remaining: Some(r) } => {
                format!("The current token works for {} more. Log in to renew it.", format_countdown(r))
            }
            NoticeKind::LoginNeeded { remaining: None } => "Log in to get a new token.".to_owned(),
            NoticeKind::LoginSucceeded => "A new token is stored and handed on.".to_owned(),
            NoticeKind::LoginBeforeOpen { opens_in } => format!(
                "The market opens in {}, and this account has no token that lasts the session.",
                format_countdown(opens_in)
            ),
            NoticeKind::MarketOpen => {
                "The market is open, and this account has no token that lasts the session. Scripts using it \
                 will fail."
                    .to_owned()
            }
            NoticeKind::IpNotRegistered { opens_in } => format!(
                "The market opens in {}, and this machine's IP is not one the broker registered. `tokentray ready` \
                 says which is and what to do.",
                format_countdown(opens_in)
            ),
        }
    }

    /// Whether a "Log in" action makes sense on this notification.
    pub fn wants_login(&self) -> bool {
        !matches!(
            self.kind,
            NoticeKind::LoginSucceeded
                | NoticeKind::IpNotRegistered { .. }
                | NoticeKind::RefreshRetrying { .. }
                | NoticeKind::NotSaved
                | NoticeKind::RefreshFailed { class: ErrorClass::CredentialsWrong, .. }
        )
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

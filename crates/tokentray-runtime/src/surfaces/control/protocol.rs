//! The control channel's wire: one JSON line per request, one per answer.
//!
//! Every request is a struct in [`call`] that names its reply type through
//! [`Call`], so the server cannot answer a request with the wrong kind of
//! reply and the client never guesses: the pairing is the compiler's. A
//! login is a conversation: [`LoginProgress`] lines come before its reply,
//! and the client may send [`PasteLine`]s meanwhile. A subscription is a
//! stream of [`Answer::Changed`] lines.

pub use super::values::{AccountSecret, HandedToken, Shown};
use crate::Remedy;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokentray_adapters::Secret;
use url::Url;

/// The longest request line the engine reads: real requests are a few
/// dozen bytes (a pasted address a few kilobytes), and no client may make
/// it buffer without end.
pub const MAX_LINE: usize = 64 * 1024;

/// The longest answer line a client reads: the accounts or the history
/// are a few kilobytes; past this, the answer is not TokenTray's.
pub const MAX_ANSWER: usize = 64 * MAX_LINE;

/// A request, and the one reply it gets.
pub trait Call: Into<Request> {
    type Reply: Serialize + DeserializeOwned;
}

/// Every request, as the server reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Status(call::Status),
    Show(call::Show),
    Login(call::Login),
    Refresh(call::Refresh),
    Check(call::Check),
    Logout(call::Logout),
    Token(call::Token),
    Accounts(call::Accounts),
    Settings(call::Settings),
    SaveAccount(call::SaveAccount),
    DeleteAccount(call::DeleteAccount),
    SaveThresholds(call::SaveThresholds),
    History(call::History),
    Snooze(call::Snooze),
    PasteRedirect(call::PasteRedirect),
    SetSecret(call::SetSecret),
    Adopt(call::Adopt),
    Subscribe(call::Subscribe),
    Stop(call::Stop),
    Servers(call::Servers),
    Ready(call::Ready),
}

impl Request {
    /// What the log says of a request: never a secret, a token or a pasted address.
    pub fn describe(&self) -> String {
        match self {
            Self::Status(_) => "status".to_owned(),
            Self::Show(_) => "show".to_owned(),
            Self::Stop(_) => "stop".to_owned(),
            Self::Login(c) => format!("login {}", c.account),
            Self::Refresh(c) => format!("refresh {}", c.account),
            Self::Check(c) => format!("check {}", c.account),
            Self::Logout(c) => format!("logout {}", c.account),
            Self::Token(c) => format!("token {}", c.account),
            Self::Accounts(_) => "accounts".to_owned(),
            Self::Settings(_) => "settings".to_owned(),
            Self::SaveAccount(c) => format!("save account {}", c.draft.id),
            Self::DeleteAccount(c) => format!("delete account {}", c.account),
            Self::SaveThresholds(_) => "save thresholds".to_owned(),
            Self::History(_) => "history".to_owned(),
            Self::Snooze(call::Snooze { seconds: Some(s) }) => format!("snooze {s}s"),
            Self::Snooze(call::Snooze { seconds: None }) => "resume notifications".to_owned(),
            Self::PasteRedirect(c) => format!("paste the login's address for {}", c.account),
            Self::SetSecret(c) => format!("store the {} of {}", c.item.name(), c.account),
            Self::Adopt(c) => format!("take what another process stored for {}", c.account),
            Self::Subscribe(_) => "subscribe".to_owned(),
            Self::Servers(_) => "servers".to_owned(),
            Self::Ready(c) => format!("ready {}", c.account.as_deref().unwrap_or("(every account)")),
        }
    }
}

/// The requests, each with its reply type.
pub mod call {
    use super::{Call, Request};
    use crate::notices::history::HistoryEntry;
    use crate::surfaces::{AccountView, Settings as WindowSettings};
    use crate::AccountStatus;
    use serde::{Deserialize, Serialize};
    use tokentray_adapters::config::edit::AccountDraft;
    use tokentray_adapters::Secret;

    macro_rules! pairs {
        ($($call:ident => $reply:ty;)*) => {
            $(
                impl Call for $call {
                    type Reply = $reply;
                }
                impl From<$call> for Request {
                    fn from(c: $call) -> Self {
                        Request::$call(c)
                    }
                }
            )*
        };
    }

    impl From<Subscribe> for Request {
        fn from(c: Subscribe) -> Self {
            Request::Subscribe(c)
        }
    }

    pairs! {
        Status => Vec<AccountStatus>;
        Show => super::Shown;
        Login => AccountStatus;
        Refresh => AccountStatus;
        Check => AccountStatus;
        Logout => ();
        Token => super::HandedToken;
        Accounts => Vec<AccountView>;
        Settings => WindowSettings;
        SaveAccount => ();
        DeleteAccount => ();
        SaveThresholds => ();
        History => Vec<HistoryEntry>;
        Snooze => Option<tokentray_core::Instant>;
        PasteRedirect => crate::login::PasteOutcome;
        SetSecret => AccountStatus;
        Adopt => AccountStatus;
        Stop => ();
        Servers => Vec<crate::remote::ServerView>;
        Ready => Vec<crate::Readiness>;
    }

    /// Whether the account (or every one) is ready to trade at the open:
    /// the token works, and this machine's IP is the one registered.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Ready {
        #[serde(default)]
        pub account: Option<String>,
    }

    /// The servers this desktop follows (`[[remote]]`), reachable or not.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Servers {}

    /// Every account's status.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Status {}

    /// Stop the running engine as SIGTERM would: what is in flight
    /// finishes. The way to stop a daemon with no console (Windows).
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Stop {}

    /// Bring the window forward (a second launch of the tray).
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Show {}

    /// Log in, in the running engine: it makes the authorize URL, receives
    /// the callback (or the address pasted through this connection) and
    /// stores the token. Progress lines come first (see `LoginProgress`).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Login {
        pub account: String,
        /// Never open a browser: show the address, and take the one the
        /// browser lands on pasted (`--no-browser`).
        #[serde(default)]
        pub no_browser: bool,
        /// How long the login waits for the browser.
        pub timeout_secs: u64,
        /// The browser is on another machine (a desktop over SSH): bind no
        /// callback here; its redirect comes as pasted addresses, and
        /// `OpenBrowser` says where that machine catches it.
        #[serde(default)]
        pub relayed: bool,
    }

    /// Renew now where the provider can; elsewhere, ask it whether the token works.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Refresh {
        pub account: String,
    }

    /// Ask the provider now whether the token works.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Check {
        pub account: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Logout {
        pub account: String,
    }

    /// The token a script may use now.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Token {
        pub account: String,
    }

    /// What the window shows: every account with its form's settings.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Accounts {}

    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Settings {}

    /// The window's account form. The api secret and PIN, if given, go to
    /// the secret store; the channel is the user's alone.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SaveAccount {
        pub draft: Box<AccountDraft>,
        pub replacing: Option<String>,
        /// Masked in `Debug`, as every `Secret`.
        pub api_secret: Option<Secret>,
        pub pin: Option<Secret>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct DeleteAccount {
        pub account: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SaveThresholds {
        pub orange: String,
        pub red: String,
    }

    /// The last days of every account's history, for the window's timeline.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct History {}

    /// Snooze notices for this many seconds; `None` resumes them. The reply
    /// is when the snooze ends.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Snooze {
        pub seconds: Option<u64>,
    }

    /// The address the browser landed on, for a login that waits for it
    /// (the window's paste field). Never logged.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PasteRedirect {
        pub account: String,
        pub url: Secret,
    }

    /// An account's api secret or PIN (`tokentray secret set`), stored by
    /// the running engine, which tries the new credentials again.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SetSecret {
        pub account: String,
        pub item: super::AccountSecret,
        pub secret: Secret,
    }

    /// Another process (a command run while nothing ran here) stored a
    /// token, logged out or stored new credentials: take it from the files
    /// before answering anyone again.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Adopt {
        pub account: String,
        /// Whether it stored new credentials (and reset their counts).
        #[serde(default)]
        pub new_credentials: bool,
    }

    /// Every change from now on, one `Changed` line each, until the client
    /// hangs up; with `notices`, also a `Noticed` line for each notice the
    /// engine tells its user (a desktop following a server shows them).
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Subscribe {
        #[serde(default)]
        pub notices: bool,
    }
}

/// How a login goes, before its reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum LoginProgress {
    /// The running TokenTray opened the browser; with `paste_in_window`,
    /// its window asks for the address the browser lands on.
    BrowserOpened { paste_in_window: bool },
    /// The running TokenTray opens no browser (a daemon): open this one
    /// here. With `paste`, no loopback server receives the redirect: send
    /// the address the browser lands on as a `PasteLine`.
    OpenBrowser {
        url: Url,
        paste: bool,
        /// A relayed login's redirect address on the browser's machine: a
        /// loopback server there catches it and sends it as a `PasteLine`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        catch_at: Option<Url>,
    },
    /// Show this address to the user, who pastes the address the browser
    /// lands on (`--no-browser`); a loopback callback still counts.
    ShowUrl { url: Url },
    /// A pasted address the login did not take; it still waits.
    PasteRefused { why: String },
}

/// An address the user pasted, sent by the client while its login runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasteLine {
    pub paste: Secret,
}

/// One line from the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer<T> {
    Reply(T),
    Error(Refusal),
    /// Before a login's reply.
    Progress(LoginProgress),
    /// In a subscription: something about this account changed (empty:
    /// about no one account, or the first line, which says it is subscribed).
    Changed(String),
    /// In a subscription that asked for them: what the engine told its user.
    Noticed(NoticeLine),
}

/// A notice the engine told its user, for a machine that follows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeLine {
    pub account: String,
    pub label: String,
    pub notice: tokentray_core::Notice,
}

/// The engine's "no", with what fixes it (the CLI's exit code, the window's button).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub message: String,
    pub remedy: Remedy,
}

impl Refusal {
    pub fn other(message: impl Into<String>) -> Self {
        Self { message: message.into(), remedy: Remedy::Other }
    }
}

impl From<crate::EngineError> for Refusal {
    fn from(e: crate::EngineError) -> Self {
        Self { remedy: e.remedy(), message: e.to_string() }
    }
}

/// One JSON line, with its newline.
pub(crate) fn line(value: &impl Serialize) -> String {
    let mut text = serde_json::to_string(value).expect("protocol values serialize");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_lines_and_read_back() {
        let requests: Vec<Request> = vec![
            call::Status {}.into(),
            call::Login { account: "kite".into(), no_browser: true, timeout_secs: 300, relayed: false }.into(),
            call::Adopt { account: "kite".into(), new_credentials: true }.into(),
        ];
        for request in requests {
            let text = line(&request);
            assert!(text.ends_with('\n') && !text.trim_end().contains('\n'), "{text}");
            assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), request);
        }
        assert_eq!(line(&Request::from(call::Status {})), "{\"cmd\":\"status\"}\n");
    }

    #[test]
    fn a_request_is_logged_without_its_secrets() {
        let draft =
            Box::new(tokentray_adapters::config::edit::AccountDraft { id: "fyers".into(), ..Default::default() });
        let (api_secret, pin) = (Some(Secret::new("s3cret")), Some(Secret::new("4321")));
        let request = Request::from(call::SaveAccount { draft, replacing: None, api_secret, pin });
        assert_eq!(request.describe(), "save account fyers");
        let debugged = format!("{request:?}");
        assert!(!debugged.contains("s3cret") && !debugged.contains("4321"), "{debugged}");
        let set = Request::from(call::SetSecret {
            account: "kite".into(),
            item: AccountSecret::ApiSecret,
            secret: Secret::new("topsecret99"),
        });
        assert!(!set.describe().contains("topsecret") && !format!("{set:?}").contains("topsecret99"));
    }
}

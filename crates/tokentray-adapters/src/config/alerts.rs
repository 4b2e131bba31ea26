//! `[[alert]]`: where TokenTray warns a trader who is away from the desk
//! (a phone through ntfy or Telegram, any service through a webhook, or a
//! program of theirs), and about which events and accounts.
//!
//! Secrets never go in the config: a Telegram bot token, an ntfy access
//! token or a webhook's signing key is set with
//! `tokentray secret set --alert NAME` and kept in the secret store.

use serde::Deserialize;
use std::collections::HashSet;
use std::path::PathBuf;
use tokentray_core::NoticeKind;
use url::Url;

/// One alert, as the config gives it once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertConfig {
    /// How commands and `status` name it; unique.
    pub name: String,
    pub channel: Channel,
    /// The events it is sent for (never empty).
    pub events: Vec<AlertEvent>,
    /// The accounts it is about; `None` for every account.
    pub accounts: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// A JSON POST; signed with HMAC-SHA256 when a secret is set.
    Webhook { url: Url },
    /// A POST to an ntfy topic URL (ntfy.sh or a server of one's own);
    /// with an access token when one is set.
    Ntfy { url: Url },
    /// The Bot API's `sendMessage` to `chat_id`; the bot token is the secret.
    Telegram { chat_id: String, api_base: Url },
    /// A program run with the event as JSON on its standard input, stopped
    /// if it runs past `timeout`.
    Command { program: PathBuf, args: Vec<String>, timeout: std::time::Duration },
}

impl Channel {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Webhook { .. } => "webhook",
            Self::Ntfy { .. } => "ntfy",
            Self::Telegram { .. } => "telegram",
            Self::Command { .. } => "command",
        }
    }
}

/// What an alert can be sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEvent {
    Orange,
    Red,
    Expired,
    LoginNeeded,
    TokenRevoked,
    RefreshFailing,
    LoginDone,
    /// A trading day's reminder: log in before the open, or at it.
    MarketReminder,
    /// `tokentray alert test`; never chosen in a config.
    #[serde(skip_deserializing)]
    Test,
}

impl AlertEvent {
    pub const ALL: [AlertEvent; 8] = [
        Self::Orange,
        Self::Red,
        Self::Expired,
        Self::LoginNeeded,
        Self::TokenRevoked,
        Self::RefreshFailing,
        Self::LoginDone,
        Self::MarketReminder,
    ];

    /// Without `events = [...]`: every warning; a login done is news only on request.
    pub fn defaults() -> Vec<AlertEvent> {
        Self::ALL.into_iter().filter(|e| *e != Self::LoginDone).collect()
    }

    /// The event a notice is, if alerts care about it. A renewal that
    /// failed for good is followed by "login needed": one alert, not two.
    pub fn of(kind: &NoticeKind) -> Option<Self> {
        Some(match kind {
            NoticeKind::Orange { .. } => Self::Orange,
            NoticeKind::Red { .. } => Self::Red,
            NoticeKind::Expired => Self::Expired,
            // Wrong credentials have no "login needed" after them: this is the alert.
            NoticeKind::RefreshFailed { class: tokentray_core::ErrorClass::CredentialsWrong, .. } => {
                Self::RefreshFailing
            }
            NoticeKind::RefreshFailed { .. } => return None,
            NoticeKind::LoginNeeded { .. } => Self::LoginNeeded,
            NoticeKind::TokenRejected => Self::TokenRevoked,
            NoticeKind::RefreshRetrying { .. } | NoticeKind::NotSaved => Self::RefreshFailing,
            NoticeKind::LoginSucceeded => Self::LoginDone,
            NoticeKind::LoginBeforeOpen { .. } | NoticeKind::MarketOpen | NoticeKind::IpNotRegistered { .. } => {
                Self::MarketReminder
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Orange => "orange",
            Self::Red => "red",
            Self::Expired => "expired",
            Self::LoginNeeded => "login_needed",
            Self::TokenRevoked => "token_revoked",
            Self::RefreshFailing => "refresh_failing",
            Self::LoginDone => "login_done",
            Self::MarketReminder => "market_reminder",
            Self::Test => "test",
        }
    }
}

/// `[[alert]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlert {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    url: Option<Url>,
    chat_id: Option<String>,
    api_base: Option<Url>,
    command: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::duration::deserialize_positive_opt")]
    timeout: Option<tokentray_core::Span>,
    events: Option<Vec<AlertEvent>>,
    accounts: Option<Vec<String>>,
}

const TELEGRAM_API: &str = "https://api.telegram.org";

/// A command alert runs at most this long unless its `timeout` says otherwise.
pub const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Checks every alert; an error gives the alert's position and says what to write instead.
pub(crate) fn resolve(raw: Vec<RawAlert>, account_ids: &HashSet<&str>) -> Result<Vec<AlertConfig>, (usize, String)> {
    let mut alerts = Vec::new();
    for (i, a) in raw.into_iter().enumerate() {
        let names: HashSet<&str> = alerts.iter().map(|a: &AlertConfig| a.name.as_str()).collect();
        alerts.push(resolve_one(i, a, &names, account_ids).map_err(|m| (i, m))?);
    }
    Ok(alerts)
}

fn resolve_one(
    i: usize,
    a: RawAlert,
    names: &HashSet<&str>,
    account_ids: &HashSet<&str>,
) -> Result<AlertConfig, String> {
    {
        let at = format!("alert #{} ({})", i + 1, a.name.as_deref().unwrap_or(&a.kind));
        let name = a.name.clone().unwrap_or_else(|| a.kind.clone());
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(format!("{at}: name `{name}` may hold only letters, digits, `-`, `_` and `.`"));
        }
        if names.contains(name.as_str()) {
            return Err(format!("{at}: another alert is named `{name}`; give each a `name`"));
        }
        if a.timeout.is_some() && a.kind != "command" {
            return Err(format!("{at}: `timeout` is a setting of command alerts only"));
        }
        let only = |allowed: &[&str]| -> Result<(), String> {
            let given =
                [("url", a.url.is_some()), ("chat_id", a.chat_id.is_some()), ("api_base", a.api_base.is_some())];
            let given = given.into_iter().chain([("command", a.command.is_some())]);
            match given.filter(|(k, set)| *set && !allowed.contains(k)).map(|(k, _)| k).next() {
                Some(extra) => Err(format!("{at}: `{extra}` is not a setting of a {} alert", a.kind)),
                None => Ok(()),
            }
        };
        let channel = match a.kind.as_str() {
            "webhook" | "ntfy" => {
                only(&["url"])?;
                let url = a.url.clone().ok_or(format!("{at}: a {} alert needs `url = \"https://...\"`", a.kind))?;
                web_url(&url).map_err(|e| format!("{at}: url {e}"))?;
                if a.kind == "ntfy" && url.path_segments().and_then(|mut s| s.next_back()).is_none_or(str::is_empty) {
                    return Err(format!("{at}: url needs the topic: https://ntfy.sh/<your-topic>"));
                }
                if a.kind == "webhook" {
                    Channel::Webhook { url }
                } else {
                    Channel::Ntfy { url }
                }
            }
            "telegram" => {
                only(&["chat_id", "api_base"])?;
                let chat_id = a.chat_id.clone().ok_or(format!(
                    "{at}: a telegram alert needs `chat_id` (the chat's number, or @channelname); \
                     set the bot token with `tokentray secret set --alert {name}`"
                ))?;
                if chat_id.is_empty() || chat_id.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!("{at}: chat_id `{chat_id}` is not a chat id"));
                }
                let api_base = a.api_base.clone().unwrap_or_else(|| Url::parse(TELEGRAM_API).expect("a URL"));
                web_url(&api_base).map_err(|e| format!("{at}: api_base {e}"))?;
                // The bot token travels in the URL's path: never over plain http to another machine.
                if api_base.scheme() != "https" && !is_loopback(&api_base) {
                    return Err(format!("{at}: api_base must be https (http only on 127.0.0.1 or localhost)"));
                }
                Channel::Telegram { chat_id, api_base }
            }
            "command" => {
                only(&["command"])?;
                let mut words = a.command.clone().unwrap_or_default().into_iter();
                let program = words
                    .next()
                    .filter(|p| !p.is_empty())
                    .ok_or(format!("{at}: a command alert needs `command = [\"/path/to/program\", \"arg\", ...]`"))?;
                let program = PathBuf::from(program);
                if !program.is_absolute() {
                    return Err(format!("{at}: command `{}` must be an absolute path", program.display()));
                }
                let timeout = a.timeout.and_then(|t| t.to_std().ok()).unwrap_or(COMMAND_TIMEOUT);
                Channel::Command { program, args: words.collect(), timeout }
            }
            other => {
                return Err(format!("{at}: type `{other}` is not one of webhook, ntfy, telegram, command"));
            }
        };
        let events = a.events.clone().unwrap_or_else(AlertEvent::defaults);
        if events.is_empty() {
            return Err(format!("{at}: `events = []` would never send: leave it out for every warning"));
        }
        if let Some(unknown) = a.accounts.iter().flatten().find(|id| !account_ids.contains(id.as_str())) {
            return Err(format!("{at}: no account has the id `{unknown}`"));
        }
        Ok(AlertConfig { name, channel, events, accounts: a.accounts })
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An http(s) address with nothing in it that could carry a secret unseen
/// (a user and password, a query, a fragment): those would travel in the
/// clear or show up in error messages.
fn web_url(url: &Url) -> Result<(), String> {
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(format!("`{}://{}` is not an http(s) address", url.scheme(), url.host_str().unwrap_or("")));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err("must have no user, password, `?query` or `#fragment`: secrets go in the keyring".to_owned());
    }
    Ok(())
}

/// Whether a secret may travel to `url`: over https, or to this machine.
pub fn secret_may_go_to(url: &Url) -> bool {
    url.scheme() == "https" || is_loopback(url)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    const ACCOUNT: &str = "[[account]]\nid = \"kite\"\nprovider = \"kite\"\napi_key = \"k\"\n\
                           redirect_uri = \"http://127.0.0.1:5010/cb\"\n";

    /// An absolute path on this system (Windows' need a drive).
    const PROGRAM: &str = if cfg!(windows) { "C:/Windows/System32/cmd.exe" } else { "/bin/true" };

    fn parse(alerts: &str) -> Result<Config, String> {
        Config::parse(&format!("{ACCOUNT}{alerts}"), Path::new("/c.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn each_kind_reads_with_its_defaults() {
        let c = parse(&format!(
            "[[alert]]\ntype = \"ntfy\"\nurl = \"https://ntfy.sh/t\"\n\
             [[alert]]\nname = \"bot\"\ntype = \"telegram\"\nchat_id = \"@desk\"\nevents = [\"red\"]\naccounts = [\"kite\"]\n\
             [[alert]]\ntype = \"command\"\ncommand = [\"{PROGRAM}\", \"-x\"]\ntimeout = \"5s\"\n",
        ))
        .unwrap();
        assert_eq!(c.alerts[0].name, "ntfy");
        assert_eq!(c.alerts[0].events, super::AlertEvent::defaults(), "every warning, not login_done");
        assert!(
            matches!(&c.alerts[1].channel, super::Channel::Telegram { api_base, .. } if api_base.as_str() == "https://api.telegram.org/")
        );
        assert_eq!(c.alerts[1].accounts.as_deref(), Some(&["kite".to_owned()][..]));
        assert!(matches!(&c.alerts[2].channel, super::Channel::Command { timeout, .. } if timeout.as_secs() == 5));
    }

    #[test]
    fn a_wrong_alert_says_which_and_what_to_write() {
        for (alert, expected) in [
            ("type = \"sms\"", "type `sms` is not one of webhook, ntfy, telegram, command"),
            ("type = \"webhook\"", "needs `url"),
            ("type = \"webhook\"\nurl = \"ftp://x/y\"", "not an http(s) address"),
            ("type = \"webhook\"\nurl = \"https://me:pw@example.com/h\"", "no user, password"),
            ("type = \"ntfy\"\nurl = \"https://ntfy.sh/t?auth=x\"", "no user, password"),
            ("type = \"ntfy\"\nurl = \"https://ntfy.sh/\"", "needs the topic"),
            ("type = \"ntfy\"\nurl = \"https://ntfy.sh/t\"\nevents = [\"test\"]", "test"),
            ("type = \"telegram\"", "needs `chat_id`"),
            ("type = \"telegram\"\nchat_id = \"1\"\napi_base = \"http://bots.example\"", "api_base must be https"),
            ("type = \"command\"\ncommand = [\"notify.sh\"]", "must be an absolute path"),
            ("type = \"ntfy\"\nurl = \"https://ntfy.sh/t\"\nevents = []", "would never send"),
            ("type = \"ntfy\"\nurl = \"https://ntfy.sh/t\"\naccounts = [\"upstox\"]", "no account has the id `upstox`"),
            ("type = \"ntfy\"\nurl = \"https://ntfy.sh/t\"\ntimeout = \"5s\"", "command alerts only"),
            (
                "type = \"ntfy\"\nurl = \"https://ntfy.sh/t\"\nchat_id = \"1\"",
                "`chat_id` is not a setting of a ntfy alert",
            ),
            ("type = \"ntfy\"\nurl = \"https://ntfy.sh/t\"\nevents = [\"purple\"]", "purple"),
            ("type = \"ntfy\"\nurl = \"https://ntfy.sh/t\"\nname = \"a b\"", "may hold only"),
            ("type = \"ntfy\"\nurl = \"https://ntfy.sh/t\"\nbot_token = \"x\"", "bot_token"),
        ] {
            let e = parse(&format!("[[alert]]\n{alert}\n")).unwrap_err();
            assert!(e.contains(expected), "{alert:?}: {e}");
            assert!(e.starts_with("/c.toml:"), "names the place: {e}");
        }
        let twice = "[[alert]]\ntype = \"ntfy\"\nurl = \"https://ntfy.sh/a\"\n[[alert]]\ntype = \"ntfy\"\nurl = \"https://ntfy.sh/b\"\n";
        assert!(parse(twice).unwrap_err().contains("another alert is named `ntfy`"));
    }
}

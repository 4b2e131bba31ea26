//! What the tray shows, as plain data: the icon's look, the title beside it,
//! one menu line per account. Pure, so it is tested without a desktop.

use crate::AccountStatus;
use tokentray_core::{Instant, Level, Span, State};

/// The tray icon. It changes only when this changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrayLook {
    /// No account configured.
    NoAccounts,
    Green,
    Orange,
    Red,
    /// Some account needs a login now (expired, rejected, or never logged in).
    ActNow,
    /// Nothing to tell but that a server cannot be reached: grey, never "log in".
    Unreachable,
}

impl TrayLook {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoAccounts => "none",
            Self::Green => "green",
            Self::Orange => "orange",
            Self::Red => "red",
            Self::ActNow => "expired",
            Self::Unreachable => "unreachable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLine {
    pub id: String,
    /// e.g. `Kite: 2h 14m (valid)`.
    pub text: String,
    pub can_refresh: bool,
    /// A token a script could be given now (or after a renewal): "Copy token".
    pub can_copy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraySummary {
    pub look: TrayLook,
    /// Beside the icon: the most urgent account and its countdown, e.g. `Kite 2h 14m`.
    pub title: String,
    pub lines: Vec<AccountLine>,
}

/// How urgent an account is for the tray: act-now first, then by colour, then
/// by the soonest moment to act.
fn urgency(s: &AccountStatus) -> (u8, i64) {
    // A server's account whose server cannot be reached is shown as that alone.
    if s.unreachable() {
        return (0, 0);
    }
    let rank = match (s.state, s.level) {
        (State::NoToken | State::NeedsLogin, _) | (_, Level::Expired) => 4,
        (_, Level::Red) => 3,
        (_, Level::Orange) => 2,
        (_, Level::Green) => 1,
        (_, Level::NoToken) => 4,
    };
    // Sooner is more urgent: negate so that max() picks it.
    (rank, -s.remaining_seconds.unwrap_or(i64::MAX / 2))
}

pub fn summarize(statuses: &[AccountStatus]) -> TraySummary {
    let lines = statuses
        .iter()
        .map(|s| AccountLine {
            id: s.id.clone(),
            text: match (s.unreachable(), s.provider.describe().read_only) {
                (true, _) => format!("{}: {}", s.label, s.message),
                // Said wherever it shows: its token cannot place orders.
                (false, true) => {
                    format!("{}: {} ({}, read-only)", s.label, s.countdown, s.state.as_str().replace('_', " "))
                }
                (false, false) => format!("{}: {} ({})", s.label, s.countdown, s.state.as_str().replace('_', " ")),
            },
            can_refresh: s.auto_refresh && !s.unreachable(),
            // A server's token leaves it only where the config says so.
            can_copy: !s.needs_login() && s.remote.as_ref().is_none_or(|r| r.copy_token),
        })
        .collect();
    let Some(top) = statuses.iter().max_by_key(|s| urgency(s)) else {
        return TraySummary { look: TrayLook::NoAccounts, title: String::new(), lines };
    };
    let look = match urgency(top).0 {
        0 => TrayLook::Unreachable,
        4 => TrayLook::ActNow,
        3 => TrayLook::Red,
        2 => TrayLook::Orange,
        _ => TrayLook::Green,
    };
    let title = match (top.state, top.remaining_seconds) {
        _ if top.unreachable() => format!("{}: server unreachable", top.label),
        (State::NoToken | State::NeedsLogin, _) => format!("{}: log in", top.label),
        (_, Some(r)) if r <= 0 => format!("{} expired", top.label),
        (_, Some(_)) => format!("{} {}", top.label, top.countdown),
        (_, None) => String::new(),
    };
    TraySummary { look, title, lines }
}

/// When the title text next changes: at the next whole minute of the most
/// urgent countdown, every second in its last minute. The title is set at
/// most that often (each change is a D-Bus signal on Linux).
pub fn next_title_change(statuses: &[AccountStatus], now: Instant) -> Option<Instant> {
    let r = statuses.iter().max_by_key(|s| urgency(s))?.remaining_seconds.filter(|&r| r > 0)?;
    Some(if r <= 60 { now + Span::seconds(1) } else { now + Span::seconds(r % 60 + 1) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokentray_core::ProviderKind;

    fn account(id: &str, state: State, level: Level, remaining: Option<i64>, countdown: &str) -> AccountStatus {
        AccountStatus {
            id: id.into(),
            label: id.into(),
            provider: ProviderKind::Kite,
            state,
            level,
            countdown: countdown.into(),
            message: String::new(),
            act_by: None,
            remaining_seconds: remaining,
            expires_at: None,
            login_at: None,
            auto_refresh: false,
            retry_at: None,
            pending_save: None,
            user_id: None,
            user_name: None,
            last_validated: None,
            last_error: None,
            last_error_message: None,
            sinks: Vec::new(),
            remote: None,
        }
    }

    #[test]
    fn no_accounts_has_its_own_look() {
        let s = summarize(&[]);
        assert_eq!((s.look, s.title.as_str()), (TrayLook::NoAccounts, ""));
    }

    #[test]
    fn the_most_urgent_account_sets_look_and_title() {
        let all = [
            account("Schwab", State::Valid, Level::Green, Some(6 * 86_400), "6d 0h"),
            account("Kite", State::Valid, Level::Orange, Some(8_040), "2h 14m"),
            account("Upstox", State::Valid, Level::Orange, Some(9_000), "2h 30m"),
        ];
        let s = summarize(&all);
        assert_eq!(s.look, TrayLook::Orange);
        assert_eq!(s.title, "Kite 2h 14m");
        assert_eq!(s.lines[1].text, "Kite: 2h 14m (valid)");
    }

    #[test]
    fn a_needed_login_beats_any_countdown() {
        let all = [
            account("Kite", State::Valid, Level::Red, Some(600), "10m"),
            account("Upstox", State::NoToken, Level::NoToken, None, "log in"),
        ];
        let s = summarize(&all);
        assert_eq!((s.look, s.title.as_str()), (TrayLook::ActNow, "Upstox: log in"));
        let expired = [account("Kite", State::Expired, Level::Expired, Some(0), "expired")];
        assert_eq!(summarize(&expired).title, "Kite expired");
        assert_eq!(summarize(&expired).look, TrayLook::ActNow);
    }

    #[test]
    fn an_unreachable_server_is_grey_and_never_a_login() {
        let mut far = account("kite@vps", State::NeedsLogin, Level::Expired, Some(0), "unreachable");
        far.label = "Kite @ vps".into();
        far.message = "server unreachable since 09:02; last known: login needed".into();
        far.remote = Some(crate::RemoteMark {
            server: "vps".into(),
            account: "kite".into(),
            unreachable_since: Some(Instant::default()),
            copy_token: false,
        });
        let alone = summarize(std::slice::from_ref(&far));
        assert_eq!(alone.look, TrayLook::Unreachable);
        assert_eq!(alone.title, "Kite @ vps: server unreachable");
        assert!(alone.lines[0].text.contains("server unreachable since 09:02"), "{:?}", alone.lines);
        assert!(!alone.lines[0].can_copy && !alone.lines[0].can_refresh);
        assert!(!far.needs_login(), "what cannot be seen is not a login due");
        let mut expired = far.clone();
        (expired.state, expired.auto_refresh) = (State::Expired, false);
        assert!(!expired.needs_login(), "nor an expiry last known");
        // Beside a local account, the local one sets the colour.
        let near = account("upstox", State::Valid, Level::Orange, Some(3000), "50m");
        assert_eq!(summarize(&[far, near]).look, TrayLook::Orange);
    }

    #[test]
    fn the_title_changes_each_minute_and_each_second_at_the_end() {
        let now: tokentray_core::Instant = "2026-12-07T10:00:00Z".parse().unwrap();
        let orange = [account("Kite", State::Valid, Level::Orange, Some(8_040 + 25), "2h 14m")];
        assert_eq!(next_title_change(&orange, now), Some(now + Span::seconds(26)));
        let last = [account("Kite", State::Valid, Level::Red, Some(45), "45s")];
        assert_eq!(next_title_change(&last, now), Some(now + Span::seconds(1)));
        let auto = [account("OAuth", State::Valid, Level::Green, None, "auto-renews")];
        assert_eq!(next_title_change(&auto, now), None);
    }
}

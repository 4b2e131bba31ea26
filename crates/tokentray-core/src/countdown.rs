//! How urgent an account is: the thresholds, the `Level` (green, orange,
//! red, expired) and the countdown's text.

use crate::Span;
use serde::{Deserialize, Serialize};

/// When the countdown turns orange and red. Defaults: orange below 3 h, red below 1 h.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    pub orange: Span,
    pub red: Span,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { orange: Span::hours(3), red: Span::hours(1) }
    }
}

impl Thresholds {
    /// The level with `remaining` left. A threshold belongs to the more urgent
    /// side, so the instant a wake-up is scheduled for is the instant the colour changes.
    pub fn level_for(&self, remaining: Span) -> Level {
        if remaining <= Span::zero() {
            Level::Expired
        } else if remaining <= self.red {
            Level::Red
        } else if remaining <= self.orange {
            Level::Orange
        } else {
            Level::Green
        }
    }
}

/// How urgent an account is, ordered from calm to act-now. The tray shows the
/// most severe level over all accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// No token and none expected: the account was never logged in or was logged out.
    NoToken,
    Green,
    Orange,
    Red,
    /// The moment to act has passed: a login is due now.
    Expired,
}

impl Level {
    pub const ALL: [Level; 5] = [Self::NoToken, Self::Green, Self::Orange, Self::Red, Self::Expired];

    /// The name scripts see: the same as its JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoToken => "no_token",
            Self::Green => "green",
            Self::Orange => "orange",
            Self::Red => "red",
            Self::Expired => "expired",
        }
    }
}

/// Countdown text for people: `6d 23h`, `2h 14m`, `14m`, `45s`.
///
/// Minutes are the finest unit above one minute because the tray title changes
/// at most once a minute there; seconds show only in the last minute.
pub fn format_countdown(remaining: Span) -> String {
    let secs = remaining.num_seconds();
    if secs <= 0 {
        return "0s".to_owned();
    }
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_names_are_their_json_names() {
        for level in Level::ALL {
            assert_eq!(serde_json::to_value(level).unwrap(), level.as_str());
        }
    }

    /// The vectors the window's logic is checked against too (`ui/logic.test.mjs`).
    fn vectors() -> serde_json::Value {
        serde_json::from_str(include_str!("../../../tests/vectors/countdown.json")).expect("the vectors are JSON")
    }

    #[test]
    fn countdown_text_uses_two_units_at_most() {
        let vectors = vectors();
        let cases = vectors["text"].as_array().expect("text cases");
        assert!(cases.len() >= 10);
        for case in cases {
            let (seconds, text) = (case[0].as_i64().unwrap(), case[1].as_str().unwrap());
            assert_eq!(format_countdown(Span::seconds(seconds)), text, "{seconds}s");
        }
    }

    #[test]
    fn the_vectors_levels_are_the_cores() {
        let vectors = vectors();
        let levels = &vectors["levels"];
        let t = Thresholds {
            orange: Span::seconds(levels["orange"].as_i64().unwrap()),
            red: Span::seconds(levels["red"].as_i64().unwrap()),
        };
        for case in levels["cases"].as_array().expect("level cases") {
            let (left, level) = (case[0].as_i64().unwrap(), case[1].as_str().unwrap());
            assert_eq!(t.level_for(Span::seconds(left)).as_str(), level, "{left}s left");
        }
    }

    #[test]
    fn levels_follow_the_thresholds_with_open_upper_bounds() {
        let t = Thresholds::default();
        assert_eq!(t.level_for(Span::hours(3) + Span::seconds(1)), Level::Green);
        assert_eq!(t.level_for(Span::hours(3)), Level::Orange);
        assert_eq!(t.level_for(Span::hours(1) + Span::seconds(1)), Level::Orange);
        assert_eq!(t.level_for(Span::hours(1)), Level::Red);
        assert_eq!(t.level_for(Span::zero()), Level::Expired);
        assert!(Level::Expired > Level::Red && Level::Red > Level::Orange);
    }
}

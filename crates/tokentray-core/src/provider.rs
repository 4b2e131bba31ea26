use serde::{Deserialize, Serialize};
use std::fmt;

/// The protocols TokenTray speaks. Each has its own login, exchange and expiry rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Kite,
    Upstox,
    Schwab,
    #[serde(rename = "oauth2")]
    OAuth2,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [Self::Kite, Self::Upstox, Self::Schwab, Self::OAuth2];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kite => "kite",
            Self::Upstox => "upstox",
            Self::Schwab => "schwab",
            Self::OAuth2 => "oauth2",
        }
    }

    /// A name for people: notifications and the tray title.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Kite => "Kite",
            Self::Upstox => "Upstox",
            Self::Schwab => "Schwab",
            Self::OAuth2 => "OAuth2",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    Fyers,
    Dhan,
    #[serde(rename = "angelone")]
    AngelOne,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 7] =
        [Self::Kite, Self::Upstox, Self::Schwab, Self::OAuth2, Self::Fyers, Self::Dhan, Self::AngelOne];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kite => "kite",
            Self::Upstox => "upstox",
            Self::Schwab => "schwab",
            Self::OAuth2 => "oauth2",
            Self::Fyers => "fyers",
            Self::Dhan => "dhan",
            Self::AngelOne => "angelone",
        }
    }

    /// A name for people: notifications and the tray title.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Kite => "Kite",
            Self::Upstox => "Upstox",
            Self::Schwab => "Schwab",
            Self::OAuth2 => "OAuth2",
            Self::Fyers => "Fyers",
            Self::Dhan => "Dhan",
            Self::AngelOne => "Angel One",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

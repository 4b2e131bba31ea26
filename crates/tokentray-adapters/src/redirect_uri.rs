//! The redirect URI exactly as the user registered it with the provider.
//!
//! Providers compare `redirect_uri` as a string: Schwab refuses
//! `https://127.0.0.1:8182/` when the app registered `https://127.0.0.1:8182`.
//! A parsed [`Url`] normalises (it adds that `/`), so the text is kept as
//! written and sent byte for byte; the parsed form is only for reading its
//! parts (scheme, host, port, path).

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::ops::Deref;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri {
    text: String,
    url: Url,
}

impl RedirectUri {
    pub fn parse(text: &str) -> Result<Self, url::ParseError> {
        Ok(Self { url: Url::parse(text)?, text: text.to_owned() })
    }

    /// The URI as configured, for every request that carries it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn url(&self) -> &Url {
        &self.url
    }
}

/// Reading parts (`scheme()`, `host()`, `path()`) goes to the parsed URL.
impl Deref for RedirectUri {
    type Target = Url;

    fn deref(&self) -> &Url {
        &self.url
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for RedirectUri {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(|e| serde::de::Error::custom(format!("`{text}` is not a URL ({e})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_kept_byte_for_byte() {
        let bare = RedirectUri::parse("https://127.0.0.1:8182").unwrap();
        assert_eq!(bare.as_str(), "https://127.0.0.1:8182");
        assert_eq!(bare.to_string(), "https://127.0.0.1:8182");
        assert_eq!(bare.url().as_str(), "https://127.0.0.1:8182/", "the parsed form normalises");
        assert_eq!((bare.scheme(), bare.port()), ("https", Some(8182)));
        assert_ne!(bare, RedirectUri::parse("https://127.0.0.1:8182/").unwrap());
    }
}

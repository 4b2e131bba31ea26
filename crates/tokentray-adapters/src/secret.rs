//! `Secret`: a value that prints masked and wipes its memory on drop, and the
//! one constant-time comparison of keys and login `state`s.

use serde::{Deserialize, Serialize};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret value (api secret, access or refresh token). Its `Debug` and
/// `Display` show only a masked prefix, so a secret that reaches a log line or
/// an error message by mistake is not leaked whole; its memory is wiped when
/// it is dropped, so a token no longer in use does not linger in the heap.
// `ZeroizeOnDrop` (derived) is the wipe: the marker and the `Drop` that
// overwrites the bytes come together, so neither can go without the other.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A new random value (`bytes` random bytes, URL-safe base64): keys
    /// TokenTray makes for itself.
    pub fn random(bytes: usize) -> Self {
        Self(crate::random::url_safe(bytes))
    }

    /// Whether `presented` is this secret, in time that does not depend on
    /// where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        same_in_constant_time(&self.0, presented)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first four characters and a mark: enough to tell two tokens apart.
    pub fn masked(&self) -> String {
        let prefix: String = self.0.chars().take(4).collect();
        if self.0.chars().count() <= 8 {
            "****".to_owned()
        } else {
            format!("{prefix}****")
        }
    }
}

/// Compares two values an attacker may probe (a key, a login's `state`)
/// without leaking, by timing, how much of them matched.
pub fn same_in_constant_time(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_wipes_its_bytes_on_drop() {
        // What the derived `Drop` runs, observed before the memory is given back.
        let mut s = Secret::new("live-token-123456");
        s.zeroize();
        assert!(s.is_empty(), "the bytes are overwritten and the length cleared");
        // Only the derive implements this marker, and it brings the `Drop` with it.
        fn wipes_on_drop<T: ZeroizeOnDrop>() {}
        wipes_on_drop::<Secret>();
    }

    #[test]
    fn secrets_print_masked() {
        let s = Secret::new("abcd1234efgh5678");
        assert_eq!(format!("{s}"), "abcd****");
        assert_eq!(format!("{s:?}"), "Secret(abcd****)");
        assert_eq!(Secret::new("short").masked(), "****");
        assert_eq!(s.expose(), "abcd1234efgh5678");
    }
}

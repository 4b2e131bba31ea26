//! A failed provider call, classified (`ErrorClass`) by its HTTP status and
//! the provider's own code, so the lifecycle knows whether to retry, renew
//! or ask for a login; its words cleaned to one printable line.

use std::fmt;
use std::time::Duration;
use tokentray_core::{ErrorClass, Failure, ProviderKind, Span};

/// A failed provider call, classified so the lifecycle knows whether to retry.
/// Provider messages never contain our tokens, so the message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ProviderError {
    pub provider: ProviderKind,
    pub class: ErrorClass,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// The provider's own code: Kite's `error_type`, Upstox's `errorCode`, OAuth2's `error`.
    pub code: Option<String>,
    pub message: String,
    /// How long the provider asked us to wait (`Retry-After`), if it did.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.provider)?;
        if let Some(s) = self.status {
            write!(f, "HTTP {s} ")?;
        }
        if let Some(c) = &self.code {
            write!(f, "{c}: ")?;
        }
        write!(f, "{} ({})", self.message, self.class.describe())
    }
}

impl ProviderError {
    pub fn new(provider: ProviderKind, class: ErrorClass, message: impl Into<String>) -> Self {
        Self { provider, class, status: None, code: None, message: message.into(), retry_after: None }
    }

    /// What the lifecycle needs to know of this failure.
    pub fn failure(&self) -> Failure {
        Failure { class: self.class, retry_after: self.retry_after.and_then(|d| Span::from_std(d).ok()) }
    }

    /// An error response, classified by status and the provider's code
    /// (`codes`: the provider's own, from its adapter file). What the
    /// provider wrote is shown to people and logged: it is kept to one
    /// short line of printable text.
    pub fn from_response(
        provider: ProviderKind,
        status: u16,
        code: Option<String>,
        message: String,
        codes: Codes,
    ) -> Self {
        let code = code.map(|c| printable(&c, 60)).filter(|c| !c.is_empty());
        let class = classify(status, code.as_deref(), codes);
        let message =
            Some(printable(&message, 300)).filter(|m| !m.is_empty()).unwrap_or_else(|| "no message".to_owned());
        Self { provider, class, status: Some(status), code, message, retry_after: None }
    }

    pub fn malformed(provider: ProviderKind, status: u16, what: impl Into<String>) -> Self {
        Self { status: Some(status), ..Self::new(provider, ErrorClass::Malformed, what) }
    }

    pub(crate) fn transport(provider: ProviderKind, e: &reqwest::Error) -> Self {
        let message = if e.is_timeout() {
            "the request timed out".to_owned()
        } else if e.is_connect() {
            "cannot connect".to_owned()
        } else {
            "the request failed".to_owned()
        };
        // reqwest's message may carry the URL, which may carry a token in its query
        // (Kite's logout): keep only the kind of failure.
        Self::new(provider, ErrorClass::Transient, message)
    }
}

/// `text` without control characters (a newline, a terminal escape), trimmed
/// and cut to `max` characters.
pub(super) fn printable(text: &str, max: usize) -> String {
    let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let clean = clean.trim();
    match clean.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &clean[..cut]),
        None => clean.to_owned(),
    }
}

/// A provider's own error codes and what each means.
pub(super) type Codes = &'static [(&'static str, ErrorClass)];

fn classify(status: u16, code: Option<&str>, codes: Codes) -> ErrorClass {
    if status == 429 {
        return ErrorClass::RateLimited;
    }
    if status >= 500 {
        return ErrorClass::Transient;
    }
    let by_code = code.and_then(|code| codes.iter().find(|(c, _)| *c == code)).map(|(_, class)| *class);
    // Without a code we know, only 401 and 403 say "this token is no good";
    // any other answer is the broker in trouble (a proxy's page, a bad
    // deploy), which is retried, never mistaken for "log in".
    by_code.unwrap_or(match status {
        401 | 403 => ErrorClass::TokenInvalid,
        _ => ErrorClass::Malformed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_each_providers_codes() {
        use ErrorClass::*;
        use ProviderKind::*;
        let cases = [
            (Kite, 403, Some("TokenException"), TokenInvalid),
            (Kite, 403, Some("PermissionException"), CredentialsWrong),
            (Kite, 400, Some("InputException"), CredentialsWrong),
            (Kite, 503, Some("NetworkException"), Transient),
            (Kite, 502, Some("DataException"), Transient),
            (Kite, 429, None, RateLimited),
            (Upstox, 401, Some("UDAPI100050"), TokenInvalid),
            (Upstox, 401, Some("UDAPI100016"), CredentialsWrong),
            (Upstox, 400, Some("UDAPI100068"), CredentialsWrong),
            (Upstox, 400, Some("UDAPI10005"), RateLimited),
            (Schwab, 400, Some("invalid_grant"), TokenInvalid),
            (Schwab, 401, Some("invalid_client"), CredentialsWrong),
            (OAuth2, 401, None, TokenInvalid),
            (OAuth2, 403, None, TokenInvalid),
            (OAuth2, 500, Some("invalid_grant"), Transient),
            (OAuth2, 404, None, Malformed),
            (Kite, 400, None, Malformed),
            (Upstox, 418, Some("UDAPI999999"), Malformed),
            (Dhan, 401, Some("DH-901"), TokenInvalid),
            (Dhan, 200, Some("DH-901"), TokenInvalid),
            (Dhan, 403, Some("DH-902"), CredentialsWrong),
            (Dhan, 400, Some("DH-904"), RateLimited),
            (Dhan, 400, Some("DH-909"), Transient),
            (Dhan, 400, Some("DH-905"), Malformed),
            (Fyers, 401, Some("-16"), TokenInvalid),
            (Fyers, 200, Some("-501"), TokenInvalid),
            (Fyers, 400, Some("-437"), TokenInvalid),
            (Fyers, 400, Some("-371"), CredentialsWrong),
            (Fyers, 200, Some("-353"), RateLimited),
            (Fyers, 200, Some("-96"), Transient),
            (Fyers, 400, Some("-441"), Malformed),
            (AngelOne, 200, Some("AG8001"), TokenInvalid),
            (AngelOne, 401, Some("AG8002"), TokenInvalid),
            (AngelOne, 200, Some("AB8051"), TokenInvalid),
            (AngelOne, 200, Some("AG8004"), CredentialsWrong),
            (AngelOne, 200, Some("AB1004"), Transient),
            (AngelOne, 200, Some("AB1007"), Malformed),
            (Tastytrade, 400, Some("invalid_grant"), TokenInvalid),
            (Tastytrade, 401, Some("invalid_client"), CredentialsWrong),
            (Tastytrade, 401, Some("unauthorized"), TokenInvalid),
            (Etrade, 401, Some("token_expired"), TokenInvalid),
            (Etrade, 401, Some("consumer_key_rejected"), CredentialsWrong),
            (Etrade, 401, Some("timestamp_refused"), Transient),
            (Breeze, 200, Some("Resource not available."), TokenInvalid),
            (Breeze, 200, Some("Public Key does not exist."), CredentialsWrong),
            (UpstoxExtended, 401, Some("UDAPI100050"), TokenInvalid),
            (Ibkr, 401, Some("not authenticated"), TokenInvalid),
            (Ibkr, 503, None, Transient),
        ];
        for (p, status, code, want) in cases {
            let codes = match p {
                Kite => super::super::kite::CODES,
                Upstox => super::super::upstox::CODES,
                Schwab | OAuth2 => super::super::oauth2::CODES,
                Fyers => super::super::fyers::CODES,
                Dhan => super::super::dhan::CODES,
                AngelOne => super::super::angelone::CODES,
                Tastytrade => super::super::tastytrade::CODES,
                Etrade => super::super::etrade::CODES,
                Breeze => super::super::breeze::CODES,
                Ibkr => super::super::ibkr::CODES,
                UpstoxExtended | UpstoxAnalytics => super::super::upstox::CODES,
            };
            assert_eq!(classify(status, code, codes), want, "{p} {status} {code:?}");
        }
    }

    #[test]
    fn errors_read_as_one_line_for_people() {
        let e = ProviderError::from_response(
            ProviderKind::Kite,
            403,
            Some("TokenException".into()),
            "Token is invalid or has expired.".into(),
            super::super::kite::CODES,
        );
        assert_eq!(
            e.to_string(),
            "kite: HTTP 403 TokenException: Token is invalid or has expired. (the provider rejected the token)"
        );
    }
}

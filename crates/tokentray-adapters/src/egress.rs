//! The IP address this machine's requests leave from, as an echo service
//! sees it (`[ready] echo`, off by default: it is a third party that learns
//! the address). It answers plain text (`203.0.113.7`) or JSON
//! (`{"ip": "203.0.113.7"}`), as api.ipify.org and its like do.

use std::net::IpAddr;
use url::Url;

/// The longest answer read: an address, or a small JSON object.
const MAX_ANSWER: usize = 4 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EgressError {
    #[error("the echo address {0} cannot be reached: {1}")]
    Unreachable(String, String),
    #[error("the echo address {0} answered HTTP {1}")]
    Status(String, u16),
    #[error("the echo address {0} answered something that is not an IP address")]
    NotAnAddress(String),
}

/// Asks `echo` which address this machine's requests come from.
pub async fn egress_ip(http: &reqwest::Client, echo: &Url) -> Result<IpAddr, EgressError> {
    // Errors name the host only: a query could carry a key.
    let host = echo.host_str().unwrap_or("?").to_owned();
    let mut response = http
        .get(echo.clone())
        .send()
        .await
        .map_err(|e| EgressError::Unreachable(host.clone(), e.without_url().to_string()))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(EgressError::Status(host, status));
    }
    let bytes = crate::bounded::read_bounded(&mut response, MAX_ANSWER)
        .await
        .map_err(|e| EgressError::Unreachable(host.clone(), e.without_url().to_string()))?;
    bytes.as_deref().and_then(read_answer).ok_or(EgressError::NotAnAddress(host))
}

/// An echo's answer: the address as plain text or JSON's `ip`.
pub fn read_answer(bytes: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("ip")?.as_str()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_and_json_answers_are_read_and_garbage_is_not() {
        assert_eq!(read_answer(b"203.0.113.7\n"), "203.0.113.7".parse().ok());
        assert_eq!(read_answer(br#"{"ip":"2001:db8::1"}"#), "2001:db8::1".parse().ok());
        for garbage in [&b"<html>blocked</html>"[..], b"", b"{\"ip\": 7}", b"\xff\xfe", b"203.0.113.999"] {
            assert_eq!(read_answer(garbage), None, "{garbage:?}");
        }
    }
}

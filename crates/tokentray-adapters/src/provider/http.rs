//! The one place provider requests are sent and answers read.

use super::ProviderError;
use serde_json::Value;
use std::time::Duration;
use tokentray_core::{ErrorClass, ProviderKind};

/// A response whose body was JSON.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<Duration>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends `request` and reads a JSON body. Transport failures are transient;
/// a body that is not JSON is malformed, or transient when the status was 5xx
/// (a gateway's HTML error page).
pub async fn send(provider: ProviderKind, request: reqwest::RequestBuilder) -> Result<Reply, ProviderError> {
    let (status, retry_after, bytes) = exchange(provider, request).await?;
    read_reply(provider, status, retry_after, &bytes)
}

/// What an answer's status and bytes say, without I/O (so that any bytes at
/// all can be tried against it): a JSON reply, or the error it amounts to.
pub fn read_reply(
    provider: ProviderKind,
    status: u16,
    retry_after: Option<Duration>,
    bytes: &[u8],
) -> Result<Reply, ProviderError> {
    let with_wait = |e: ProviderError| ProviderError { retry_after, ..e };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(body) => Ok(Reply { status, body, retry_after }),
        Err(_) if status >= 500 || status == 429 => {
            let class = if status == 429 { ErrorClass::RateLimited } else { ErrorClass::Transient };
            Err(with_wait(ProviderError {
                status: Some(status),
                ..ProviderError::new(provider, class, "an error page that is not JSON")
            }))
        }
        Err(e) => Err(with_wait(ProviderError::malformed(provider, status, format!("the response is not JSON ({e})")))),
    }
}

/// Sends `request` and reports only its status: for calls whose success has
/// no body to read (RFC 7009 revocation answers 200 with an empty body).
pub async fn send_for_status(provider: ProviderKind, request: reqwest::RequestBuilder) -> Result<Reply, ProviderError> {
    let (status, retry_after, bytes) = exchange(provider, request).await?;
    let body = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
    Ok(Reply { status, body, retry_after })
}

/// Sends `request` and hands back its status, `Retry-After` and raw bytes:
/// for answers that are not JSON (E*TRADE's OAuth endpoints answer
/// form-encoded text).
pub async fn send_raw(
    provider: ProviderKind,
    request: reqwest::RequestBuilder,
) -> Result<(u16, Option<Duration>, Vec<u8>), ProviderError> {
    exchange(provider, request).await
}

/// The largest answer read from a provider: real ones are a few kilobytes,
/// and a broken or hostile server must not fill the memory.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

async fn exchange(
    provider: ProviderKind,
    request: reqwest::RequestBuilder,
) -> Result<(u16, Option<Duration>, Vec<u8>), ProviderError> {
    let response = request.send().await.map_err(|e| ProviderError::transport(provider, &e))?;
    let status = response.status().as_u16();
    let retry_after = parse_retry_after(response.headers());
    let too_large = || {
        ProviderError::malformed(
            provider,
            status,
            format!("the answer is larger than {} KiB", MAX_RESPONSE_BYTES / 1024),
        )
    };
    let mut response = response;
    let bytes = crate::bounded::read_bounded(&mut response, MAX_RESPONSE_BYTES)
        .await
        .map_err(|e| ProviderError::transport(provider, &e))?;
    Ok((status, retry_after, bytes.ok_or_else(too_large)?))
}

/// `Retry-After` (RFC 9110 10.2.3): delay-seconds, or an HTTP-date, which
/// counts from the answer's own `Date` (the broker's clock, not this
/// machine's, which may be off); without a `Date` the wait is unknown.
pub fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let sent = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let sent = chrono::DateTime::parse_from_rfc2822(sent.trim()).ok()?;
    (at - sent).to_std().ok().or(Some(Duration::ZERO))
}

/// A string field of a JSON object, if present and a string.
pub fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The refresh token after an answer: the one it carries (rotated), else
/// the one that was renewed. An answer without one never forgets ours.
pub fn rotated(v: &Value, key: &str, previous: Option<&crate::Secret>) -> Option<crate::Secret> {
    text(v, key).filter(|r| !r.is_empty()).map(crate::Secret::new).or_else(|| previous.cloned())
}

/// A required string field, or a malformed-response error naming it.
pub fn required<'a>(provider: ProviderKind, status: u16, v: &'a Value, key: &str) -> Result<&'a str, ProviderError> {
    text(v, key)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ProviderError::malformed(provider, status, format!("the response has no `{key}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates_by_the_brokers_clock() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = reqwest::header::HeaderMap::new();
            for (name, value) in pairs {
                h.insert(*name, reqwest::header::HeaderValue::from_str(value).unwrap());
            }
            h
        };
        let date = ("date", "Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(parse_retry_after(&headers(&[("retry-after", "40")])), Some(Duration::from_secs(40)));
        let later = ("retry-after", "Wed, 21 Oct 2015 07:29:30 GMT");
        assert_eq!(parse_retry_after(&headers(&[later, date])), Some(Duration::from_secs(90)));
        let past = ("retry-after", "Wed, 21 Oct 2015 07:27:00 GMT");
        assert_eq!(parse_retry_after(&headers(&[past, date])), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(&headers(&[later])), None, "no Date: the wait is unknown");
        assert_eq!(parse_retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(parse_retry_after(&headers(&[])), None);
    }
}

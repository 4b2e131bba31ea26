//! The one place provider requests are sent and answers read.

use super::ProviderError;
use serde_json::Value;
use tokentray_core::{ErrorClass, ProviderKind};

/// A response whose body was JSON.
pub struct Reply {
    pub status: u16,
    pub body: Value,
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
    let response = request.send().await.map_err(|e| ProviderError::transport(provider, &e))?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|e| ProviderError::transport(provider, &e))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(body) => Ok(Reply { status, body }),
        Err(_) if status >= 500 || status == 429 => {
            let class = if status == 429 { ErrorClass::RateLimited } else { ErrorClass::Transient };
            Err(ProviderError {
                status: Some(status),
                ..ProviderError::new(provider, class, "an error page that is not JSON")
            })
        }
        Err(e) => Err(ProviderError::malformed(provider, status, format!("the response is not JSON ({e})"))),
    }
}

/// A string field of a JSON object, if present and a string.
pub fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A required string field, or a malformed-response error naming it.
pub fn required<'a>(provider: ProviderKind, status: u16, v: &'a Value, key: &str) -> Result<&'a str, ProviderError> {
    text(v, key)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ProviderError::malformed(provider, status, format!("the response has no `{key}`")))
}

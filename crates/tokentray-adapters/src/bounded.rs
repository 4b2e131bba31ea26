//! Reading an HTTP answer no larger than its caller expects: brokers,
//! Vault and alert services answer in kilobytes, and a broken or hostile
//! server must not fill the memory.

/// The body, unless it is larger than `max` bytes (`None`): a broken or
/// hostile server must not fill the memory.
pub async fn read_bounded(response: &mut reqwest::Response, max: usize) -> reqwest::Result<Option<Vec<u8>>> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if bytes.len() + chunk.len() > max {
            return Ok(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(bytes))
}

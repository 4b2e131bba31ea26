//! The `[ready]` table: how `tokentray ready` finds the address this
//! machine's orders leave from. Off by default: an echo service is a third
//! party that learns the address (and when the user asks).

use serde::Deserialize;
use url::Url;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadyConfig {
    /// An address that answers with the caller's IP (`https://api.ipify.org`).
    pub echo: Option<Url>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReady {
    echo: Option<String>,
}

pub(crate) fn resolve(raw: Option<RawReady>) -> Result<ReadyConfig, String> {
    let Some(echo) = raw.and_then(|r| r.echo) else { return Ok(ReadyConfig::default()) };
    let url = Url::parse(echo.trim())
        .map_err(|e| format!("[ready] echo: {e}; write it as echo = \"https://api.ipify.org\""))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("[ready] echo: an http(s) address, as echo = \"https://api.ipify.org\"".to_owned());
    }
    Ok(ReadyConfig { echo: Some(url) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_echo_is_off_unless_set_and_only_http() {
        assert_eq!(resolve(None).unwrap().echo, None);
        let on = resolve(Some(RawReady { echo: Some("https://api.ipify.org".into()) })).unwrap();
        assert_eq!(on.echo.unwrap().as_str(), "https://api.ipify.org/");
        for bad in ["file:///etc/passwd", "api.ipify.org", "ftp://x"] {
            assert!(resolve(Some(RawReady { echo: Some(bad.into()) })).unwrap_err().contains("echo"), "{bad}");
        }
    }
}

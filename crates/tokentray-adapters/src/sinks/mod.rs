//! Sinks: files the user's scripts already read, rewritten with every new
//! token. Each write keeps the rest of the file (other lines, keys, comments,
//! order) and replaces the file atomically, so a reader sees the old file or
//! the new one, never a torn one. A file TokenTray cannot read back is left
//! alone and reported, never overwritten.

mod env;
mod json;
mod toml_file;

use crate::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
pub use tokentray_core::provider::Field;
use tokentray_core::{Instant, ProviderKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkFormat {
    /// `NAME=value` lines (`.env`).
    Env,
    /// Values at JSON pointers.
    Json,
    /// Values at dotted keys (e.g. Streamlit's `.streamlit/secrets.toml`).
    Toml,
    /// The access token alone.
    Raw,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    pub format: SinkFormat,
    pub path: PathBuf,
    /// Name (env variable, JSON pointer, dotted TOML key) to field, in name order.
    pub fields: BTreeMap<String, Field>,
}

/// The values a sink can write for one token.
pub struct SinkValues<'a> {
    pub account: &'a str,
    pub access_token: &'a Secret,
    pub feed_token: Option<&'a Secret>,
    pub token_secret: Option<&'a Secret>,
    pub api_key: &'a str,
    pub user_id: Option<&'a str>,
    pub expires_at: Option<Instant>,
}

impl SinkValues<'_> {
    fn get(&self, field: Field) -> String {
        match field {
            Field::AccessToken => self.access_token.expose().to_owned(),
            Field::ApiKey => self.api_key.to_owned(),
            Field::FeedToken => self.feed_token.map(|t| t.expose().to_owned()).unwrap_or_default(),
            Field::TokenSecret => self.token_secret.map(|t| t.expose().to_owned()).unwrap_or_default(),
            Field::UserId => self.user_id.unwrap_or("").to_owned(),
            Field::ExpiresAt => self.expires_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            Field::Account => self.account.to_owned(),
        }
    }
}

/// One sink's last write, as `status` and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkStatus {
    pub path: String,
    pub format: SinkFormat,
    pub ok: bool,
    pub error: Option<String>,
    pub written_at: Option<Instant>,
}

#[derive(Debug, thiserror::Error)]
#[error("sink {}: {message}", path.display())]
pub struct SinkError {
    pub path: PathBuf,
    pub message: String,
}

/// The fields a sink writes when its config names none.
pub fn default_fields(format: SinkFormat, provider: ProviderKind) -> BTreeMap<String, Field> {
    match format {
        SinkFormat::Env => provider.describe().env.iter().map(|(n, f)| ((*n).to_owned(), *f)).collect(),
        SinkFormat::Json => [("/access_token".to_owned(), Field::AccessToken)].into(),
        SinkFormat::Toml => [("access_token".to_owned(), Field::AccessToken)].into(),
        SinkFormat::Raw => [("access_token".to_owned(), Field::AccessToken)].into(),
    }
}

/// Rewrites one sink with `values`.
pub fn write(sink: &SinkConfig, values: &SinkValues<'_>) -> Result<(), SinkError> {
    let (_, next) = render(sink, values)?;
    crate::atomic::write(&sink.path, next.as_bytes(), 0o600)
        .map_err(|e| SinkError { path: sink.path.clone(), message: format!("cannot write it: {e}") })
}

/// Rewrites every sink of an account; one failing sink does not stop the
/// others, and each result is returned for the status to show.
pub fn write_all(sinks: &[SinkConfig], values: &SinkValues<'_>, now: Instant) -> Vec<SinkStatus> {
    sinks
        .iter()
        .map(|sink| {
            let result = write(sink, values);
            if let Err(e) = &result {
                tracing::warn!(account = %values.account, "{e}");
            }
            SinkStatus {
                path: sink.path.display().to_string(),
                format: sink.format,
                ok: result.is_ok(),
                error: result.err().map(|e| e.message),
                written_at: Some(now),
            }
        })
        .collect()
}

/// Whether the sink already holds `values` (at start-up, a crash may have
/// left it on an older token).
pub fn is_current(sink: &SinkConfig, values: &SinkValues<'_>) -> Result<bool, SinkError> {
    let (current, next) = render(sink, values)?;
    Ok(current == next)
}

/// The largest sink file read: a `.env` or a settings file is kilobytes.
pub const MAX_SINK_FILE_BYTES: u64 = 1024 * 1024;

/// The file as it is, and as it would be with `values` in it.
fn render(sink: &SinkConfig, values: &SinkValues<'_>) -> Result<(String, String), SinkError> {
    let fail = |message: String| SinkError { path: sink.path.clone(), message };
    let current = match crate::atomic::read_regular(&sink.path, MAX_SINK_FILE_BYTES) {
        Ok(text) => text.unwrap_or_default(),
        Err(e) => return Err(fail(format!("cannot read it: {e}"))),
    };
    let next = rewrite(sink, &current, values).map_err(fail)?;
    Ok((current, next))
}

/// The text of the sink's file with `values` in it, given what the file
/// holds now (which may be anything at all: it is the user's file). Pure.
pub fn rewrite(sink: &SinkConfig, current: &str, values: &SinkValues<'_>) -> Result<String, String> {
    let pairs: Vec<(&str, String)> = sink.fields.iter().map(|(name, f)| (name.as_str(), values.get(*f))).collect();
    match sink.format {
        SinkFormat::Env => env::set(current, &pairs),
        SinkFormat::Json => json::set(current, &pairs),
        SinkFormat::Toml => toml_file::set(current, &pairs),
        SinkFormat::Raw => Ok(format!("{}\n", values.access_token.expose())),
    }
}

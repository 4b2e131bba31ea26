//! What a config that does not load says: the file, and for a wrong value
//! its line, column and field, with what to write instead.

use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid { path: PathBuf, line: usize, column: usize, message: String },
}

impl ConfigError {
    pub fn is_missing_file(&self) -> bool {
        matches!(self, Self::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// A section's "no": where in the text (a table's or a value's span; none
/// for the top of the file) and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wrong {
    pub span: Option<Range<usize>>,
    pub message: String,
}

impl Wrong {
    pub(crate) fn at(span: Range<usize>, message: impl Into<String>) -> Self {
        Self { span: Some(span), message: message.into() }
    }

    pub(crate) fn top(message: impl Into<String>) -> Self {
        Self { span: None, message: message.into() }
    }

    /// The error it is in `text`, read from `path`.
    pub(crate) fn in_file(self, text: &str, path: &Path) -> ConfigError {
        let (line, column) = self.span.map_or((1, 1), |s| line_column(text, s.start));
        ConfigError::Invalid { path: path.to_owned(), line, column, message: self.message }
    }
}

pub(crate) use crate::position::line_column;

/// The key of a `key = value` line that `offset` falls in, to name the field
/// when the parser's message names only the value.
pub(crate) fn key_at(text: &str, offset: usize) -> Option<&str> {
    let start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('[') && !key.contains('"')).then_some(key)
}

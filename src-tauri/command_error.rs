//! What a window command that failed tells the page: the message, and what
//! fixes it, so the window can offer the one button that helps ("Log in").

use serde::Serialize;
use tokentray_adapters::config_edit::EditError;
use tokentray_runtime::login::LoginError;
use tokentray_runtime::{EngineError, Remedy};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    /// For people, naming the fix.
    pub message: String,
    /// What fixes it: `login` (the window offers "Log in"), `secret`, `retry` or `other`.
    pub remedy: Remedy,
}

impl CommandError {
    pub fn other(message: impl Into<String>) -> Self {
        Self { message: message.into(), remedy: Remedy::Other }
    }
}

impl From<EngineError> for CommandError {
    fn from(e: EngineError) -> Self {
        Self { message: e.to_string(), remedy: e.remedy() }
    }
}

impl From<LoginError> for CommandError {
    fn from(e: LoginError) -> Self {
        Self { message: e.to_string(), remedy: e.remedy() }
    }
}

impl From<EditError> for CommandError {
    fn from(e: EditError) -> Self {
        Self::other(e.to_string())
    }
}

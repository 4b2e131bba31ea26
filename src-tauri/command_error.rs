//! What a window command that failed tells the page: the message, and what
//! fixes it, so the window can offer the one button that helps ("Log in").

use serde::Serialize;
use tokentray_runtime::control::ClientError;
use tokentray_runtime::Remedy;

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

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::NotRunning => {
                Self::other("TokenTray is not running: start it again from the applications menu")
            }
            ClientError::Refused(refusal) => Self { message: refusal.message, remedy: refusal.remedy },
            other => Self { remedy: other.remedy(), message: other.to_string() },
        }
    }
}

//! The remote protocol: the control channel's own lines, several calls at
//! once over one SSH session's standard input and output, each line in an
//! envelope with its call's number. The server says first which protocol
//! it speaks; a desktop that speaks another stops there, with what to do.

use crate::control::{call, Request};
use serde::{Deserialize, Serialize};

/// The protocol this build speaks. Raised when a line's meaning changes;
/// fields added with defaults keep it.
pub const PROTOCOL: u32 = 1;

/// The server's first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub tokentray_remote: u32,
    /// The server's TokenTray version, for messages.
    pub version: String,
}

impl Hello {
    pub fn ours() -> Self {
        Self { tokentray_remote: PROTOCOL, version: env!("CARGO_PKG_VERSION").to_owned() }
    }
}

/// A line from the desktop: the first of a call is its request; later
/// ones (a login's pasted addresses) go to the same call; `close` hangs it up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToServer {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub close: bool,
}

/// A line from the server: one of a call's answer lines, or its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToDesktop {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub end: bool,
}

/// What a desktop may ask a server for: following it and logging in.
/// Editing its accounts, its secrets or stopping it stay on the server
/// (its own terminal), so a desktop's compromise reaches no further. A
/// login is always relayed: its redirect comes from the desktop.
pub fn admitted(request: Request) -> Result<Request, String> {
    match request {
        Request::Login(login) => Ok(Request::Login(call::Login { relayed: true, ..login })),
        r @ (Request::Status(_)
        | Request::Refresh(_)
        | Request::Check(_)
        | Request::Logout(_)
        | Request::Token(_)
        | Request::Subscribe(_)
        | Request::Ready(_)) => Ok(r),
        other => Err(format!("`{}` is not asked of a server over SSH; do it on the server", other.describe())),
    }
}

/// A server's words as shown here: no control characters (a terminal's
/// escapes), no markup (a notification's), of a sane length.
pub(crate) fn plain(text: &str) -> String {
    text.chars().filter(|c| !c.is_control() && !matches!(c, '<' | '>' | '&')).take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_desktop_may_follow_and_log_in_but_not_edit_or_stop() {
        let login = call::Login { account: "kite".into(), no_browser: false, timeout_secs: 9, relayed: false };
        match admitted(login.into()).unwrap() {
            Request::Login(l) => assert!(l.relayed, "a login from a desktop binds nothing on the server"),
            other => panic!("{other:?}"),
        }
        assert!(admitted(call::Status {}.into()).is_ok());
        for refused in [
            Request::from(call::Stop {}),
            call::DeleteAccount { account: "kite".into() }.into(),
            call::SetSecret {
                account: "kite".into(),
                item: crate::control::AccountSecret::ApiSecret,
                secret: tokentray_adapters::Secret::new("x"),
            }
            .into(),
            call::Adopt { account: "kite".into(), new_credentials: true }.into(),
        ] {
            let why = admitted(refused).unwrap_err();
            assert!(why.contains("do it on the server"), "{why}");
        }
    }
}

//! What a login is asked to do (open a browser here, take pasted
//! addresses, relay) and where it starts in the browser.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use url::Url;

use super::inbox::Pasted;
use super::DEFAULT_TIMEOUT;

pub struct LoginOptions {
    /// Open the system browser here; otherwise the URL is only handed to `show_url`.
    pub open_browser: bool,
    pub timeout: Duration,
    /// Addresses the user pasted (`--no-browser`, or a client's), each answered.
    pub pasted: Option<mpsc::Receiver<Pasted>>,
    /// Shows the login's address to the user (printed, put in the window,
    /// or sent to the client that opens the browser), once a browser here
    /// has it if one opens here.
    pub show_url: Box<dyn Fn(&LoginUrl) + Send + Sync>,
    /// Where no loopback server can receive the redirect (Angel One's https
    /// page on a server of the user's), take the address the browser lands
    /// on from [`Engine::paste_redirect`] (the window's paste field).
    pub paste_from_window: bool,
    /// Signalled when whoever asked for the login went away: a login still
    /// waiting for the browser ends; one exchanging or storing goes on.
    pub abandoned: Option<Arc<Notify>>,
    /// The browser is on another machine (a desktop following this server
    /// over SSH): no callback server here; the redirect comes pasted, from
    /// that machine's loopback server at [`LoginUrl::catch_at`].
    pub relayed: bool,
}

/// Where a login starts in the browser.
#[derive(Debug, Clone)]
pub struct LoginUrl {
    /// The provider's authorize URL.
    pub authorize: Url,
    /// The page a browser opens first: the authorize URL, or for an https
    /// loopback redirect TokenTray's page about its certificate.
    pub first: Url,
    /// No loopback server receives the redirect: the address the browser
    /// lands on must be pasted.
    pub paste: bool,
    /// A relayed login's loopback redirect: the browser's machine catches it there.
    pub catch_at: Option<Url>,
}

impl Default for LoginOptions {
    fn default() -> Self {
        Self {
            open_browser: true,
            timeout: DEFAULT_TIMEOUT,
            pasted: None,
            show_url: Box::new(|_| {}),
            paste_from_window: false,
            abandoned: None,
            relayed: false,
        }
    }
}

impl LoginOptions {
    /// Opens the authorize URL with an HTTP client instead of a browser and
    /// follows the redirects to the callback: for a provider that approves by
    /// itself (the sandbox in the demo and in tests).
    pub fn following_redirects() -> Self {
        Self {
            open_browser: false,
            show_url: Box::new(|url| {
                let url = url.authorize.clone();
                tokio::spawn(async move {
                    if let Err(e) = reqwest::get(url).await {
                        tracing::warn!("following the login redirects failed: {e}");
                    }
                });
            }),
            ..Self::default()
        }
    }
}

//! Where a login's callbacks arrive: from the callback server, or as URLs
//! the user pastes (`--no-browser`), until the login times out or a newer
//! one replaces it.

use super::callback_server::Page;
use super::LoginError;
use axum::http::StatusCode;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// A callback received, with the way to answer the browser (none for a pasted URL).
pub(super) struct Callback {
    pub query: HashMap<String, String>,
    pub reply: Option<oneshot::Sender<Page>>,
}

impl Callback {
    /// Shows `page` in the browser that delivered the callback, if one did.
    pub fn answer(&mut self, page: Page) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(page);
        }
    }
}

/// An address the user pasted, and where to tell how the login took it
/// (the window's paste field; none for a terminal's standard input).
pub(crate) struct Pasted {
    pub(super) line: String,
    pub(super) reply: Option<oneshot::Sender<Page>>,
}

pub(super) struct Inbox {
    sender: mpsc::Sender<Callback>,
    served: mpsc::Receiver<Callback>,
    pasted: Option<mpsc::Receiver<Pasted>>,
}

impl Inbox {
    pub fn new(pasted: Option<mpsc::Receiver<Pasted>>) -> Self {
        let (sender, served) = mpsc::channel(8);
        Self { sender, served, pasted }
    }

    /// Where the callback server delivers.
    pub fn sender(&self) -> mpsc::Sender<Callback> {
        self.sender.clone()
    }

    pub fn takes_pasted_urls(&self) -> bool {
        self.pasted.is_some()
    }

    /// The next callback, or why none will come: the deadline passed, or a
    /// newer login for the account replaced this one.
    pub async fn next(
        &mut self,
        account: &str,
        deadline: tokio::time::Instant,
        waited: Duration,
        cancel: &Notify,
    ) -> Result<Callback, LoginError> {
        loop {
            tokio::select! {
                Some(callback) = self.served.recv() => return Ok(callback),
                Some(pasted) = recv_pasted(&mut self.pasted) => match tokentray_adapters::provider::pasted_callback_query(&pasted.line) {
                    Some(query) => return Ok(Callback { query, reply: pasted.reply }),
                    None => {
                        let why = "that is not the address the browser landed on; paste the whole address";
                        tracing::warn!("{why}");
                        let mut refused = Callback { query: HashMap::new(), reply: pasted.reply };
                        refused.answer(Page::new(StatusCode::BAD_REQUEST, "Not a login address", why));
                    }
                },
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(LoginError::TimedOut { account: account.to_owned(), waited });
                }
                _ = cancel.notified() => return Err(LoginError::Replaced(account.to_owned())),
            }
        }
    }

    /// Runs `work` (the code's exchange) while telling a replayed callback
    /// that the code is spent.
    pub async fn refusing_replays<T>(&mut self, work: impl Future<Output = T>) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                result = &mut work => return result,
                Some(mut replay) = self.served.recv() => replay.answer(Page::new(
                    StatusCode::CONFLICT,
                    "Already used",
                    "This login already received its code; a code works only once.",
                )),
            }
        }
    }
}

async fn recv_pasted(pasted: &mut Option<mpsc::Receiver<Pasted>>) -> Option<Pasted> {
    match pasted {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

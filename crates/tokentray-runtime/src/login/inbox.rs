//! Where a login's callbacks arrive: from the callback server, or as URLs
//! the user pastes (`--no-browser`), until the login times out or a newer
//! one replaces it.

use super::page::Page;
use super::verdict::{PasteOutcome, Verdict};
use super::LoginError;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// A callback received, with the way to answer whoever delivered it.
pub(super) struct Callback {
    pub query: HashMap<String, String>,
    pub reply: Option<Reply>,
}

/// Who waits for a callback's verdict: the browser that delivered it (a
/// page), or whoever pasted the address (an outcome).
pub(super) enum Reply {
    Browser(oneshot::Sender<Page>),
    Paste(oneshot::Sender<PasteOutcome>),
}

impl Callback {
    /// Tells whoever delivered the callback how the login took it.
    pub fn answer(&mut self, verdict: Verdict) {
        match self.reply.take() {
            Some(Reply::Browser(page)) => drop(page.send(verdict.page())),
            Some(Reply::Paste(outcome)) => drop(outcome.send(verdict.outcome())),
            None => {}
        }
    }
}

/// An address the user pasted, and where to tell how the login took it
/// (none: nobody asks, as for a terminal's own login).
pub struct Pasted {
    pub line: String,
    pub reply: Option<oneshot::Sender<PasteOutcome>>,
}

pub(super) struct Inbox {
    sender: mpsc::Sender<Callback>,
    served: mpsc::Receiver<Callback>,
    pasted: Option<mpsc::Receiver<Pasted>>,
    /// The field a typed code is read as (E*TRADE's verifier, Upstox's
    /// analytics token), where the provider shows one.
    typed_code: Option<&'static str>,
}

impl Inbox {
    pub fn new(pasted: Option<mpsc::Receiver<Pasted>>, typed_code: Option<&'static str>) -> Self {
        let (sender, served) = mpsc::channel(8);
        Self { sender, served, pasted, typed_code }
    }

    /// A pasted line as a callback's query: the address's, or a typed code
    /// (token text, nothing else) as the provider's field.
    fn query_of(&self, line: &str) -> Option<HashMap<String, String>> {
        tokentray_adapters::provider::pasted_callback_query(line).or_else(|| {
            let code = line.trim();
            let field = self.typed_code.filter(|_| tokentray_adapters::provider::is_token_text(code))?;
            Some(HashMap::from([(field.to_owned(), code.to_owned())]))
        })
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
        abandoned: Option<&Notify>,
    ) -> Result<Callback, LoginError> {
        loop {
            tokio::select! {
                Some(callback) = self.served.recv() => return Ok(callback),
                Some(pasted) = recv_pasted(&mut self.pasted) => {
                    let reply = pasted.reply.map(Reply::Paste);
                    match self.query_of(&pasted.line) {
                        Some(query) => return Ok(Callback { query, reply }),
                        None => {
                            tracing::warn!("a pasted line is not the address the browser landed on");
                            Callback { query: HashMap::new(), reply }.answer(Verdict::NotAnAddress);
                        }
                    }
                },
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(LoginError::TimedOut { account: account.to_owned(), waited });
                }
                _ = cancel.notified() => return Err(LoginError::Replaced(account.to_owned())),
                _ = notified(abandoned) => return Err(LoginError::Abandoned(account.to_owned())),
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
                Some(mut replay) = self.served.recv() => replay.answer(Verdict::Spent),
            }
        }
    }
}

/// `notify`'s next signal; never, without one.
async fn notified(notify: Option<&Notify>) {
    match notify {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

async fn recv_pasted(pasted: &mut Option<mpsc::Receiver<Pasted>>) -> Option<Pasted> {
    match pasted {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

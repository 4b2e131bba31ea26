//! What a login runs beside itself, each ending with the guard it returns:
//! the watch of a broker's gateway page (IBKR's), and one stream of pastes
//! from two places (the terminal that asked, and the tray's window).

use super::inbox::{Callback, Pasted};
use std::time::Duration;
use tokentray_adapters::provider::{LoginAttempt, ProviderClient};
use tokio::sync::mpsc;

/// Asks the broker's gateway once a second (IBKR paces `/tickle` at one a
/// second; ibeam polls as often) whether the login on its page is over, and
/// delivers what it hands over as the login's callback. It stops when the
/// returned guard is dropped (the login ended) or once delivered.
pub(super) fn watch(client: ProviderClient, attempt: LoginAttempt, inbox: mpsc::Sender<Callback>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Said once per new trouble (the gateway down, a login elsewhere), not every second.
        let mut said: Option<String> = None;
        loop {
            every.tick().await;
            match client.watch_login(&attempt).await {
                Ok(Some(query)) => {
                    let _ = inbox.send(Callback { query, reply: None }).await;
                    return;
                }
                Ok(None) => said = None,
                Err(e) if said.as_deref() != Some(e.message.as_str()) => {
                    tracing::warn!(account = %client.account().id, "waiting for the login on the gateway's page: {e}");
                    said = Some(e.message);
                }
                Err(_) => {}
            }
        }
    }))
}

/// One stream of pastes from two (a terminal's and the window's), for as
/// long as the returned guard lives.
pub(super) fn merge_pastes(
    mut a: mpsc::Receiver<Pasted>,
    mut b: mpsc::Receiver<Pasted>,
) -> (mpsc::Receiver<Pasted>, AbortOnDrop) {
    let (sender, merged) = mpsc::channel(4);
    let task = tokio::spawn(async move {
        let (mut a_open, mut b_open) = (true, true);
        while a_open || b_open {
            let next = tokio::select! {
                p = a.recv(), if a_open => p.or_else(|| { a_open = false; None }),
                p = b.recv(), if b_open => p.or_else(|| { b_open = false; None }),
            };
            if let Some(p) = next {
                if sender.send(p).await.is_err() {
                    return;
                }
            }
        }
    });
    (merged, AbortOnDrop(task))
}

/// A task that ends with its owner.
pub(super) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

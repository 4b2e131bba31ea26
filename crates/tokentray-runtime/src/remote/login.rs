//! Logging in a server's account from this desktop: the server's engine
//! makes the authorize URL (its `state`, its PKCE verifier) and the
//! exchange, from its own IP with its own secret; this machine opens the
//! browser and carries the broker's redirect (caught on its loopback, or
//! pasted) to the server, which checks it as it checks any callback. The
//! token is made and stored on the server.

use super::error::RemoteError;
use super::link::Link;
use super::relay::{Catcher, Caught};
use crate::control::{call, Answer, LoginProgress, PasteLine};
use crate::AccountStatus;
use std::collections::VecDeque;
use tokentray_adapters::Secret;
use tokio::sync::{mpsc, oneshot};

/// Who sent a pasted line, so that the server's "not taken" reaches them.
enum Sender {
    User,
    Browser(oneshot::Sender<Caught>),
}

/// Runs the server's login of `account` (its name there). `progress` hears
/// `OpenBrowser` (open it here; with `paste`, nothing here catches the
/// redirect) and refusals of what the user pasted; `pasted` carries what
/// the user pastes. Ends with the account's status on the server.
pub async fn log_in(
    link: &Link,
    account: &str,
    timeout_secs: u64,
    mut progress: impl FnMut(&LoginProgress),
    mut pasted: mpsc::Receiver<Secret>,
) -> Result<AccountStatus, RemoteError> {
    let request = call::Login { account: account.to_owned(), no_browser: false, timeout_secs, relayed: true };
    let mut call = link.start(request.into())?;
    let server = call.server().to_owned();
    let mut catcher: Option<Catcher> = None;
    let mut senders: VecDeque<Sender> = VecDeque::new();
    let mut pasting = true;
    let mut opened = false;
    let ended = |senders: &mut VecDeque<Sender>, caught: Caught| {
        for sender in senders.drain(..) {
            if let Sender::Browser(verdict) = sender {
                let _ = verdict.send(caught.clone());
            }
        }
    };
    loop {
        tokio::select! {
            answer = call.next::<AccountStatus>() => match answer {
                Ok(Answer::Reply(status)) => {
                    ended(&mut senders, Caught::LoggedIn);
                    return Ok(status);
                }
                Ok(Answer::Error(mut refusal)) => {
                    refusal.message = super::wire::plain(&refusal.message);
                    ended(&mut senders, Caught::Ended(refusal.message.clone()));
                    return Err(RemoteError::Refused { server, refusal });
                }
                // One browser per login: a server that asks again is not obeyed.
                Ok(Answer::Progress(LoginProgress::OpenBrowser { .. })) if opened => {
                    tracing::warn!(server = %server, "a second browser asked for in one login: ignored");
                }
                Ok(Answer::Progress(LoginProgress::OpenBrowser { url, paste, catch_at })) => {
                    opened = true;
                    if let Some(at) = &catch_at {
                        catcher = Catcher::bind(at, &url).await;
                    }
                    let paste = paste || catcher.is_none();
                    progress(&LoginProgress::OpenBrowser { url, paste, catch_at: None });
                }
                Ok(Answer::Progress(LoginProgress::PasteRefused { why })) => match senders.pop_front() {
                    Some(Sender::Browser(verdict)) => {
                        let _ = verdict.send(Caught::Refused(why));
                    }
                    _ => progress(&LoginProgress::PasteRefused { why }),
                },
                Ok(Answer::Progress(other)) => progress(&other),
                Ok(Answer::Changed(_) | Answer::Noticed(_)) => {
                    return Err(RemoteError::Garbled { server, why: "a change line in a login".to_owned() })
                }
                Err(e) => {
                    ended(&mut senders, Caught::Ended(e.to_string()));
                    return Err(e);
                }
            },
            arrival = async { catcher.as_mut()?.next().await }, if catcher.is_some() => {
                if let Some(arrival) = arrival {
                    call.send(&PasteLine { paste: Secret::new(arrival.url) })?;
                    senders.push_back(Sender::Browser(arrival.verdict));
                }
            },
            paste = pasted.recv(), if pasting => match paste {
                Some(paste) => {
                    call.send(&PasteLine { paste })?;
                    senders.push_back(Sender::User);
                }
                None => pasting = false,
            },
        }
    }
}

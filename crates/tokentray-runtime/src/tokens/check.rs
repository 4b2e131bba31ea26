//! "Is this token still good?", asked of the provider now: by `tokentray
//! check`, by a script that just got a 401/403 (`POST /v1/accounts/{id}/check`),
//! and by `refresh` on a provider that cannot renew.
//!
//! A burst of reports (ten bot threads all failing at once) shares one
//! provider call: a report that arrives while a check runs waits for it and
//! takes its answer.

use crate::engine::merge_user;
use crate::engine::ENDED_BY_BROKER;
use crate::{AccountStatus, Engine, EngineError};
use tokentray_core::{ErrorClass, Event, State};

impl Engine {
    /// Validates the token with the provider now. A token the provider
    /// rejects is renewed where the provider can, else marked "login
    /// needed"; a provider that cannot be reached leaves the token as it was.
    pub async fn check(&self, id: &str) -> Result<AccountStatus, EngineError> {
        let (gate, seen) = self.with_slot(id, |s| (s.check_gate.clone(), s.checks_done))?;
        let _gate = gate.lock().await;
        if self.with_slot(id, |s| s.checks_done)? != seen {
            return self.last_check_outcome(id);
        }
        if !self.client(id)?.can_validate() {
            // No call to check with, but a renewal answers the question: a
            // new token works, or the provider says the grant is dead.
            if self.status(id)?.auto_refresh {
                drop(_gate);
                // At most one such renewal every 30 s: a script reporting every
                // 401 must not rotate the refresh token on each.
                if self.claim_manual_refresh(id, crate::surfaces::api::MANUAL_REFRESH_GAP)?.is_some() {
                    let status = self.status(id)?;
                    return match status.state {
                        State::Valid | State::Refreshing => Ok(status),
                        _ => Err(EngineError::Unavailable { account: id.to_owned(), why: status.message }),
                    };
                }
                return self.refresh(id).await;
            }
            return Err(EngineError::CannotCheck(id.to_owned()));
        }
        if self.status(id)?.state == State::NoToken {
            return Err(EngineError::NoToken(id.to_owned()));
        }
        let validated = self.validate(id).await;
        let unknown =
            validated.as_ref().err().filter(|e| e.class() != Some(ErrorClass::TokenInvalid)).map(|e| e.to_string());
        self.with_slot(id, |s| {
            s.checks_done += 1;
            s.last_check_unknown = unknown;
        })?;
        match validated {
            Ok(status) => Ok(status),
            Err(e) if e.class() == Some(ErrorClass::TokenInvalid) => {
                if self.status(id)?.auto_refresh {
                    self.refresh(id).await
                } else {
                    Err(EngineError::LoginNeeded { account: id.to_owned(), why: ENDED_BY_BROKER.to_owned() })
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The answer of the check that ran while this caller waited for it.
    fn last_check_outcome(&self, id: &str) -> Result<AccountStatus, EngineError> {
        if let Some(why) = self.with_slot(id, |s| s.last_check_unknown.clone())? {
            return Err(EngineError::Unavailable { account: id.to_owned(), why });
        }
        let status = self.status(id)?;
        match status.state {
            State::Valid | State::Refreshing => Ok(status),
            State::NoToken => Err(EngineError::NoToken(id.to_owned())),
            _ if status.needs_login() => {
                let why = if status.last_error == Some(ErrorClass::TokenInvalid) {
                    ENDED_BY_BROKER.to_owned()
                } else {
                    status.message
                };
                Err(EngineError::LoginNeeded { account: id.to_owned(), why })
            }
            _ => Err(EngineError::Unavailable { account: id.to_owned(), why: status.message }),
        }
    }

    /// The answer to a check whose token was replaced while it ran: the new
    /// token is fresh from the broker, or there is none (a logout).
    pub(crate) fn replaced_meanwhile(&self, id: &str) -> Result<AccountStatus, EngineError> {
        let status = self.status(id)?;
        match status.state {
            State::NoToken => Err(EngineError::NoToken(id.to_owned())),
            _ => Ok(status),
        }
    }

    /// Checks the token with the provider's profile call.
    pub async fn validate(&self, id: &str) -> Result<AccountStatus, EngineError> {
        // Read before the token itself: if a renewal lands in between, the
        // verdict is filed under the older token and ignored, never the
        // other way round.
        let (client, token) = self.with_slot(id, |s| (s.client.clone(), s.lifecycle.token().copied()))?;
        let token = token.ok_or_else(|| EngineError::NoToken(id.to_owned()))?;
        let outcome = async {
            let tokens = self.tokens(id).await?;
            if client.account().describe().signs_requests() {
                let secret = self.api_secret(client.account()).await?;
                return Ok(client.validate_with_secret(&tokens, &secret).await?);
            }
            Ok::<_, EngineError>(client.validate(&tokens).await?)
        }
        .await;
        match outcome {
            Ok(user) => {
                let now = self.now();
                let mut notices = Vec::new();
                let held = self.with_slot(id, |s| {
                    s.counters.validation_ok += 1;
                    let held = s.lifecycle.token() == Some(&token);
                    s.lifecycle.handle(Event::Validated { token }, now, &mut notices);
                    if held {
                        s.user = merge_user(&s.user, user.clone());
                        s.last_error_message = None;
                    }
                    held
                })?;
                if !held {
                    tracing::debug!(account = id, "a check of a token since replaced said it works");
                    return self.replaced_meanwhile(id);
                }
                self.dispatch(id, notices);
                let standing = self.with_slot(id, |s| s.lifecycle.standing())?;
                self.update_state(id, |st| {
                    st.last_validated = Some(now);
                    st.standing = standing;
                    st.last_error_message = None;
                    st.user_id = st.user_id.take().or(user.user_id);
                    st.user_name = st.user_name.take().or(user.user_name);
                })
                .await?;
                self.after_change(id);
                self.status(id)
            }
            Err(e) => {
                let failure = e.validation_failure();
                let _ = self.with_slot(id, |s| s.counters.validation_failed += 1);
                if !self.record_failure(id, token, Event::ValidationFailed { token, failure }, &e).await {
                    tracing::debug!(account = id, "a check of a token since replaced failed: {e}");
                    return self.replaced_meanwhile(id);
                }
                Err(e)
            }
        }
    }
}

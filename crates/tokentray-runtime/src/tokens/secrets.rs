//! The account's secrets as the rest of the engine reads them: cached after
//! the first keyring read, and the token a script may use now.

use crate::engine::ENDED_BY_BROKER;
use crate::{AccountStatus, Credential, Engine, EngineError};
use tokentray_adapters::config::AccountConfig;
use tokentray_adapters::provider::{Credentials, ProviderClient};
use tokentray_adapters::store::{SecretItem, TokenSet};
use tokentray_adapters::Secret;
use tokentray_core::{ErrorClass, State};

impl Engine {
    /// The account's tokens, from memory or the secret store. Does not check
    /// expiry: callers decide from `status` whether the token is usable.
    pub async fn tokens(&self, id: &str) -> Result<TokenSet, EngineError> {
        loop {
            let (cached, held, generation) =
                self.with_slot(id, |s| (s.tokens.clone(), s.lifecycle.token().is_some(), s.generation))?;
            if let Some(t) = cached {
                return Ok(t);
            }
            if !held {
                return Err(EngineError::NoToken(id.to_owned()));
            }
            let tokens = self.store_call(id, |store, id| store.tokens(id)).await?;
            let tokens = tokens.ok_or_else(|| EngineError::NoToken(id.to_owned()))?;
            // A token installed (or a logout made) while the store was read
            // is newer than what was read: look again.
            let kept = self.with_slot(id, |s| {
                let current = s.generation == generation;
                if current {
                    s.tokens = Some(tokens.clone());
                }
                current
            })?;
            if kept {
                return Ok(tokens);
            }
        }
    }

    /// A token a script can use now: the stored one while it is valid, else a
    /// refreshed one where the provider allows it, else "log in". A token the
    /// broker rejected is never handed out. A script's call never spends a
    /// retry: while one is scheduled through an outage, it is told so at once.
    pub async fn current_token(&self, id: &str) -> Result<TokenSet, EngineError> {
        let now = self.now();
        // A refresh ahead of expiry is no reason to wait: the current token still works.
        let usable = |s: &AccountStatus| {
            s.state == State::Valid || (s.state == State::Refreshing && s.expires_at.is_some_and(|e| e > now))
        };
        let mut status = self.status(id)?;
        if !usable(&status) && status.auto_refresh {
            if status.retry_at.is_some_and(|at| at > now) || status.pending_save.is_some() {
                return Err(EngineError::Unavailable { account: id.to_owned(), why: status.message });
            }
            status = self.refresh(id).await?;
            // A renewal that ended in an outage while this call waited for it.
            if !usable(&status) && status.auto_refresh {
                return Err(EngineError::Unavailable { account: id.to_owned(), why: status.message });
            }
        }
        if !usable(&status) {
            let why = match status.state {
                State::NoToken => "not logged in".to_owned(),
                _ if status.last_error == Some(ErrorClass::TokenInvalid) => ENDED_BY_BROKER.to_owned(),
                State::Expired => match status.expires_at {
                    Some(at) => format!("the token expired at {}", at.with_timezone(&chrono::Local).format("%H:%M:%S")),
                    None => "the token expired".to_owned(),
                },
                _ => status.message,
            };
            return Err(EngineError::LoginNeeded { account: id.to_owned(), why });
        }
        self.tokens(id).await
    }

    /// Stores an account's api secret (from the window's form).
    pub async fn set_api_secret(&self, id: &str, secret: Secret) -> Result<(), EngineError> {
        self.store_credential(id, SecretItem::ApiSecret, secret).await?;
        self.credentials_changed(id, Credential::ApiSecret).await
    }

    /// Stores an account's PIN (Fyers renews only with it).
    pub async fn set_pin(&self, id: &str, pin: Secret) -> Result<(), EngineError> {
        self.store_credential(id, SecretItem::Pin, pin).await?;
        self.credentials_changed(id, Credential::Pin).await
    }

    /// Stores an account's api secret and PIN together, then tries them
    /// once: what was refused may have been either.
    pub async fn set_credentials(&self, id: &str, secret: Secret, pin: Secret) -> Result<(), EngineError> {
        self.store_credential(id, SecretItem::ApiSecret, secret).await?;
        self.store_credential(id, SecretItem::Pin, pin).await?;
        self.credentials_changed(id, Credential::Pin).await?;
        self.credentials_changed(id, Credential::ApiSecret).await
    }

    async fn store_credential(&self, id: &str, item: SecretItem, value: Secret) -> Result<(), EngineError> {
        self.store_call(id, move |store, id| store.set(id, item, &value)).await
    }

    /// What renewing `client`'s token takes besides the token: the api
    /// secret, and the PIN where the provider asks for one (read only then,
    /// so no other account ever prompts the keyring for it).
    pub(crate) async fn credentials(&self, client: &ProviderClient) -> Result<Credentials, EngineError> {
        let secret = self.api_secret(client.account()).await?;
        let pin = match client.needs_pin() {
            true => self.store_call(&client.account().id, |store, id| store.get(id, SecretItem::Pin)).await?,
            false => None,
        };
        Ok(Credentials { secret, pin })
    }

    /// Whether the account renews with a PIN that is not stored.
    pub(crate) async fn pin_missing(&self, id: &str) -> bool {
        if !self.client(id).is_ok_and(|c| c.needs_pin()) {
            return false;
        }
        matches!(self.store_call(id, |store, id| store.get(id, SecretItem::Pin)).await, Ok(None))
    }

    pub(crate) async fn api_secret(&self, account: &AccountConfig) -> Result<Secret, EngineError> {
        let secret = self.store_call(&account.id, |store, id| store.get(id, SecretItem::ApiSecret)).await?;
        match secret {
            Some(s) => Ok(s),
            // A public OAuth2 client (PKCE, no secret) authenticates with its id alone.
            None if !account.needs_secret() => Ok(Secret::new("")),
            None => Err(EngineError::MissingSecret(account.id.clone())),
        }
    }
}

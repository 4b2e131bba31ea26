//! What each provider's adapter file implements: its protocol over HTTP.
//! [`super::ProviderClient`] picks the file by the account's provider and
//! does what they all share around it: the `state` check its description
//! asks for, the client-id check of a login that carries none, and the
//! check that a token is token text.

use super::http::Reply;
use super::static_ip::RegisteredIps;
use super::{CallbackError, Credentials, Grant, LoginAttempt, LoginCode, ProviderClient, ProviderError, UserInfo};
use crate::store::TokenSet;
use crate::Secret;
use std::collections::HashMap;
use tokentray_core::{ErrorClass, Instant, TokenMeta};

#[async_trait::async_trait]
pub(super) trait Protocol: Sync {
    /// A fresh login attempt carrying `state`.
    async fn begin_login(
        &self,
        c: &ProviderClient,
        secret: &Secret,
        state: String,
    ) -> Result<LoginAttempt, ProviderError>;

    /// What the login's redirect hands over, or the provider's refusal.
    fn read_callback(&self, query: &HashMap<String, String>) -> Result<LoginCode, CallbackError>;

    async fn exchange(
        &self,
        c: &ProviderClient,
        login: &LoginCode,
        attempt: &LoginAttempt,
        secret: &Secret,
        now: Instant,
    ) -> Result<Grant, ProviderError>;

    /// Renews `current` (its description says how: with the refresh token,
    /// or the live token itself).
    async fn refresh(
        &self,
        c: &ProviderClient,
        tokens: &TokenSet,
        current: &TokenMeta,
        credentials: &Credentials,
        now: Instant,
    ) -> Result<Grant, ProviderError>;

    /// What a login's token answer grants, without I/O.
    fn token_answer(&self, c: &ProviderClient, reply: Reply, now: Instant) -> Result<Grant, ProviderError>;

    /// What a profile call's answer says of the token, without I/O.
    fn profile_answer(&self, c: &ProviderClient, reply: Reply) -> Result<UserInfo, ProviderError>;

    /// Asks whether the access token works (a profile call).
    async fn validate(&self, c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError>;

    /// Asks whether the tokens work with a call signed with the app's
    /// secret too (E*TRADE); where calls carry the token alone, as `validate`.
    async fn validate_signed(
        &self,
        c: &ProviderClient,
        tokens: &TokenSet,
        _secret: &Secret,
    ) -> Result<UserInfo, ProviderError> {
        self.validate(c, &tokens.access_token).await
    }

    /// Ends the tokens at the provider, where it has a way to.
    async fn logout(&self, c: &ProviderClient, tokens: &TokenSet, secret: Option<&Secret>)
        -> Result<(), ProviderError>;

    /// Whether a login on the broker's own page has finished (a gateway's,
    /// IBKR's), and what it hands over; `None` until then, and always for a
    /// login that ends in a redirect.
    async fn watch_login(
        &self,
        _: &ProviderClient,
        _: &LoginAttempt,
    ) -> Result<Option<HashMap<String, String>>, ProviderError> {
        Ok(None)
    }

    /// The static IPs registered for the app, where the provider lets a
    /// program read them; `None` where it does not.
    async fn registered_ips(&self, _: &ProviderClient, _: &Secret) -> Result<Option<RegisteredIps>, ProviderError> {
        Ok(None)
    }
}

/// The refresh token a renewal carries: a token set without one cannot be
/// renewed (the client checks before it asks a protocol).
pub(super) fn refresh_token<'a>(c: &ProviderClient, tokens: &'a TokenSet) -> Result<&'a Secret, ProviderError> {
    tokens.refresh_token.as_ref().filter(|t| !t.is_empty()).ok_or_else(|| {
        ProviderError::new(
            c.kind(),
            ErrorClass::TokenInvalid,
            "this token cannot be refreshed (no refresh token): log in instead",
        )
    })
}

/// An OAuth2-shaped redirect (RFC 6749 4.1.2): the code in `field`, or
/// `error` and `error_description` when the user or the provider said no.
pub(super) fn code_or_error(query: &HashMap<String, String>, field: &'static str) -> Result<LoginCode, CallbackError> {
    if let Some(e) = query.get("error") {
        return Err(CallbackError::Denied(match query.get("error_description") {
            Some(d) => format!("{e}: {d}"),
            None => e.clone(),
        }));
    }
    code_in(query, field)
}

/// The code in `field`, which must be there and not empty.
pub(super) fn code_in(query: &HashMap<String, String>, field: &'static str) -> Result<LoginCode, CallbackError> {
    query.get(field).filter(|c| !c.is_empty()).map(|c| LoginCode::new(c)).ok_or(CallbackError::Missing(field))
}

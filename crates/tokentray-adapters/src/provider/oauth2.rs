//! OAuth2 (RFC 6749, PKCE per RFC 7636), and Schwab as an OAuth2 provider with
//! Basic client authentication, 30-minute access tokens and a refresh token
//! that dies 7 days after the login.
//!
//! Sources: RFC 6749, RFC 7636, RFC 7009 and RFC 8252 (native apps: system
//! browser, loopback redirect); for Schwab, alexgolec/schwab-py `schwab/auth.py`
//! and `docs/auth.rst` (Basic client authentication, the 7-day refresh limit
//! counted from the login) and tylerebowers/Schwabdev `schwabdev/tokens.py`.

use super::error::Codes;
use super::http::{required, rotated, send, send_for_status, text, Reply};
use super::protocol::{code_or_error, refresh_token, Protocol};
use super::{
    lifetime_override, CallbackError, Credentials, Grant, LoginAttempt, LoginCode, ProviderClient, ProviderError,
    UserInfo,
};
use crate::config::{AccountConfig, ClientAuth};
use crate::store::TokenSet;
use crate::Secret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tokentray_core::expiry::oauth2_expiry;
use tokentray_core::{ErrorClass, Instant, ProviderKind, Refreshability, TokenMeta};
use url::Url;

/// When a token response has no `expires_in`, assume an hour (RFC 6749 leaves
/// it to documentation) and let validation find out the truth.
const ASSUMED_EXPIRES_IN: i64 = 3600;

/// RFC 6749 5.2's error codes, as Schwab answers them too.
pub(super) const CODES: Codes = &[
    ("invalid_grant", ErrorClass::TokenInvalid),
    ("invalid_token", ErrorClass::TokenInvalid),
    ("invalid_client", ErrorClass::CredentialsWrong),
    ("unauthorized_client", ErrorClass::CredentialsWrong),
    ("temporarily_unavailable", ErrorClass::Transient),
    ("server_error", ErrorClass::Transient),
];

struct Endpoints {
    authorize: Url,
    token: String,
    profile: Option<String>,
    revocation: Option<String>,
    client_auth: ClientAuth,
    pkce: bool,
    scopes: Vec<String>,
}

fn endpoints(a: &AccountConfig) -> Endpoints {
    match (&a.oauth2, a.provider) {
        (Some(o), _) => Endpoints {
            authorize: o.authorize_url.clone(),
            token: o.token_url.to_string(),
            profile: o.profile_url.as_ref().map(Url::to_string),
            revocation: o.revocation_url.as_ref().map(Url::to_string),
            client_auth: o.client_auth,
            pkce: o.pkce,
            scopes: o.scopes.clone(),
        },
        (None, _) => Endpoints {
            authorize: Url::parse(&ProviderClient::endpoint(&a.login_base, "/v1/oauth/authorize"))
                .expect("login_base is a valid URL"),
            token: ProviderClient::endpoint(&a.api_base, "/v1/oauth/token"),
            profile: Some(ProviderClient::endpoint(&a.api_base, "/trader/v1/userPreference")),
            revocation: None,
            client_auth: ClientAuth::Basic,
            pkce: false,
            scopes: Vec::new(),
        },
    }
}

pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub fn begin_login(account: &AccountConfig, state: String) -> LoginAttempt {
    let e = endpoints(account);
    let mut url = e.authorize.clone();
    let verifier = e.pkce.then(|| Secret::new(crate::random::url_safe(32)));
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &account.api_key)
            .append_pair("redirect_uri", account.redirect_uri.as_str())
            .append_pair("state", &state);
        if !e.scopes.is_empty() {
            q.append_pair("scope", &e.scopes.join(" "));
        }
        if let Some(v) = &verifier {
            q.append_pair("code_challenge", &pkce_challenge(v.expose())).append_pair("code_challenge_method", "S256");
        }
    }
    LoginAttempt { pkce_verifier: verifier, ..LoginAttempt::new(url, state) }
}

fn error(kind: ProviderKind, reply: &Reply) -> ProviderError {
    ProviderError {
        retry_after: reply.retry_after,
        ..ProviderError::from_response(
            kind,
            reply.status,
            text(&reply.body, "error").map(str::to_owned),
            text(&reply.body, "error_description").unwrap_or("no description").to_owned(),
            CODES,
        )
    }
}

/// A token request with the client authenticated the configured way.
fn token_request(
    c: &ProviderClient,
    url: &str,
    mut form: Vec<(&'static str, String)>,
    secret: &Secret,
) -> reqwest::RequestBuilder {
    let a = c.account();
    let request = c.http.post(url).header("Accept", "application/json");
    let request = match endpoints(a).client_auth {
        ClientAuth::Basic => request.basic_auth(&a.api_key, Some(secret.expose())),
        ClientAuth::Body => {
            form.push(("client_id", a.api_key.clone()));
            if !secret.is_empty() {
                form.push(("client_secret", secret.expose().to_owned()));
            }
            request
        }
    };
    request.form(&form)
}

async fn token_grant(
    c: &ProviderClient,
    request: reqwest::RequestBuilder,
    previous_refresh: Option<&Secret>,
    login_at: Instant,
    now: Instant,
) -> Result<Grant, ProviderError> {
    token_answer(c, send(c.kind(), request).await?, previous_refresh, login_at, now)
}

/// What the token endpoint's answer grants (an exchange's, or a renewal's
/// with the refresh token it renewed and the original login time).
pub(super) fn token_answer(
    c: &ProviderClient,
    reply: Reply,
    previous_refresh: Option<&Secret>,
    login_at: Instant,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let kind = c.kind();
    if !reply.is_success() {
        return Err(error(kind, &reply));
    }
    let access = required(kind, reply.status, &reply.body, "access_token")?;
    // A rotated refresh token replaces the old one; no refresh_token keeps it.
    let refresh = rotated(&reply.body, "refresh_token", previous_refresh);
    // A grant is never refused over its lifetime: the refresh token in it may
    // have replaced ours already. A lifetime that cannot be read is assumed,
    // and absurd ones are brought into range (`oauth2_expiry`).
    let expires_in = match reply.body.get("expires_in") {
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())),
        None => Some(ASSUMED_EXPIRES_IN),
    };
    let expires_in = expires_in.unwrap_or_else(|| {
        tracing::warn!(provider = %kind, "`expires_in` is not a number; assuming {ASSUMED_EXPIRES_IN} s");
        ASSUMED_EXPIRES_IN
    });
    let a = c.account();
    let refresh_state = match (&refresh, a.refresh_limit()) {
        (None, _) => Refreshability::NotRefreshable,
        (Some(_), Some(limit)) => Refreshability::Until(tokentray_core::add_span(login_at, limit)),
        (Some(_), None) => Refreshability::Unbounded,
    };
    Ok(Grant {
        tokens: TokenSet {
            access_token: Secret::new(access),
            refresh_token: refresh,
            feed_token: None,
            token_secret: None,
        },
        meta: TokenMeta {
            issued_at: now,
            expires_at: lifetime_override(a, now).unwrap_or_else(|| oauth2_expiry(now, expires_in)),
            login_at,
            refresh: refresh_state,
        },
        user: UserInfo::default(),
    })
}

pub async fn exchange(
    c: &ProviderClient,
    code: &str,
    attempt: &LoginAttempt,
    secret: &Secret,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let a = c.account();
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", a.redirect_uri.to_string()),
    ];
    if let Some(v) = &attempt.pkce_verifier {
        form.push(("code_verifier", v.expose().to_owned()));
    }
    let request = token_request(c, &endpoints(a).token, form, secret);
    token_grant(c, request, None, now, now).await
}

pub async fn refresh(
    c: &ProviderClient,
    refresh_token: &Secret,
    current: &TokenMeta,
    secret: &Secret,
    now: Instant,
) -> Result<Grant, ProviderError> {
    let form = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", refresh_token.expose().to_owned())];
    let request = token_request(c, &endpoints(c.account()).token, form, secret);
    // The refresh limit counts from the original login, not from this refresh.
    token_grant(c, request, Some(refresh_token), current.login_at, now).await
}

pub async fn profile(c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
    let kind = c.kind();
    let Some(url) = endpoints(c.account()).profile else {
        return Err(ProviderError::new(
            kind,
            ErrorClass::CredentialsWrong,
            "this account has no profile_url in [account.oauth2] to check the token with",
        ));
    };
    let request = c.http.get(url).header("Accept", "application/json").bearer_auth(access.expose());
    profile_answer(kind, send(kind, request).await?)
}

pub(super) fn profile_answer(kind: ProviderKind, reply: Reply) -> Result<UserInfo, ProviderError> {
    if !reply.is_success() {
        return Err(error(kind, &reply));
    }
    Ok(UserInfo {
        user_id: text(&reply.body, "sub").or_else(|| text(&reply.body, "user_id")).map(str::to_owned),
        user_name: text(&reply.body, "name").map(str::to_owned),
    })
}

/// RFC 7009: revoke the refresh token (which takes its access tokens with it
/// on most servers), then the access token; each is tried even when the other
/// fails. Any 2xx is success, whatever its body (RFC 7009 2.2: usually empty).
/// Without a revocation endpoint the logout is local: the tokens are forgotten
/// and die at their expiry.
pub async fn logout(c: &ProviderClient, tokens: &TokenSet, secret: Option<&Secret>) -> Result<(), ProviderError> {
    let kind = c.kind();
    let Some(url) = endpoints(c.account()).revocation else {
        return Ok(());
    };
    let empty = Secret::new("");
    let secret = secret.unwrap_or(&empty);
    let mut to_revoke = vec![("access_token", &tokens.access_token)];
    if let Some(r) = &tokens.refresh_token {
        to_revoke.insert(0, ("refresh_token", r));
    }
    let mut first_error = None;
    for (hint, token) in to_revoke {
        let form = vec![("token", token.expose().to_owned()), ("token_type_hint", hint.to_owned())];
        let outcome = match send_for_status(kind, token_request(c, &url, form, secret)).await {
            Ok(reply) if reply.is_success() => Ok(()),
            Ok(reply) => Err(error(kind, &reply)),
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Schwab, and any provider the account's `[account.oauth2]` describes.
pub(super) struct OAuth2;

#[async_trait::async_trait]
impl Protocol for OAuth2 {
    async fn begin_login(&self, c: &ProviderClient, _: &Secret, state: String) -> Result<LoginAttempt, ProviderError> {
        Ok(begin_login(c.account(), state))
    }

    fn read_callback(&self, query: &HashMap<String, String>) -> Result<LoginCode, CallbackError> {
        code_or_error(query, "code")
    }

    async fn exchange(
        &self,
        c: &ProviderClient,
        login: &LoginCode,
        attempt: &LoginAttempt,
        secret: &Secret,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        exchange(c, login.code.expose(), attempt, secret, now).await
    }

    async fn refresh(
        &self,
        c: &ProviderClient,
        tokens: &TokenSet,
        current: &TokenMeta,
        credentials: &Credentials,
        now: Instant,
    ) -> Result<Grant, ProviderError> {
        refresh(c, refresh_token(c, tokens)?, current, &credentials.secret, now).await
    }

    fn token_answer(&self, c: &ProviderClient, reply: Reply, now: Instant) -> Result<Grant, ProviderError> {
        token_answer(c, reply, None, now, now)
    }

    fn profile_answer(&self, c: &ProviderClient, reply: Reply) -> Result<UserInfo, ProviderError> {
        profile_answer(c.kind(), reply)
    }

    async fn validate(&self, c: &ProviderClient, access: &Secret) -> Result<UserInfo, ProviderError> {
        profile(c, access).await
    }

    async fn logout(
        &self,
        c: &ProviderClient,
        tokens: &TokenSet,
        secret: Option<&Secret>,
    ) -> Result<(), ProviderError> {
        logout(c, tokens, secret).await
    }
}

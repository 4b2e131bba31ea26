//! The sandbox's registered apps and what it has issued.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;
use tokentray_core::ProviderKind;

/// An app registered with the sandbox, as a developer registers one with a broker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct App {
    /// The provider whose protocol it speaks (Schwab's and a generic
    /// OAuth2 provider's are the same emulation).
    pub provider: ProviderKind,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    /// The user who "logs in" through this app.
    pub user_id: String,
    /// OAuth2: demand `Authorization: Basic` (Schwab) instead of accepting either form.
    #[serde(default)]
    pub require_basic_auth: bool,
    /// OAuth2: demand a PKCE challenge on every authorization.
    #[serde(default)]
    pub require_pkce: bool,
    /// Kite: return a non-empty `refresh_token` (approved platforms only, on the real API).
    #[serde(default)]
    pub kite_refresh_token: bool,
    /// This app's access token lifetime, over the sandbox-wide `access_ttl`.
    #[serde(default)]
    pub access_ttl: Option<Duration>,
    /// Fyers: the user's PIN, which every renewal must carry.
    #[serde(default)]
    pub pin: String,
}

impl App {
    /// A plain app: no Basic-only or PKCE-only rules, no Kite refresh token.
    pub fn new(
        provider: ProviderKind,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
        user_id: &str,
    ) -> Self {
        Self {
            provider,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            user_id: user_id.to_owned(),
            require_basic_auth: false,
            require_pkce: false,
            kite_refresh_token: false,
            access_ttl: None,
            pin: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxConfig {
    pub apps: Vec<App>,
    /// Lifetime of access tokens; `None` follows the real rules (Kite 06:00 IST,
    /// Upstox 03:30 IST, OAuth2 1800 s).
    pub access_ttl: Option<Duration>,
    /// OAuth2 refresh tokens stop working this long after the login (Schwab: 7 days).
    pub refresh_ttl: Duration,
    /// How long an authorization code or Kite request token can be exchanged.
    pub code_ttl: Duration,
    /// Redirect straight back from the authorize page (tests), or show an Approve page (people).
    pub auto_approve: bool,
    /// OAuth2 refresh issues a new refresh token and invalidates the old one.
    pub rotate_refresh_tokens: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            apps: Vec::new(),
            access_ttl: None,
            refresh_ttl: Duration::from_secs(7 * 86_400),
            code_ttl: Duration::from_secs(300),
            auto_approve: true,
            rotate_refresh_tokens: true,
        }
    }
}

impl SandboxConfig {
    /// The app registered as `client_id` for one of `providers`.
    pub fn app(&self, providers: &[ProviderKind], client_id: &str) -> Option<&App> {
        self.apps.iter().find(|a| providers.contains(&a.provider) && a.client_id == client_id)
    }

    /// The access token lifetime for `client_id`, if not the provider's rule.
    pub fn access_ttl_for(&self, client_id: &str) -> Option<Duration> {
        self.apps.iter().find(|a| a.client_id == client_id).and_then(|a| a.access_ttl).or(self.access_ttl)
    }
}

#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub client_id: String,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub client_id: String,
    pub login_at: DateTime<Utc>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct RequestToken {
    pub client_id: String,
    pub issued_at: DateTime<Utc>,
    pub verifier: Option<String>,
}

/// An IBKR gateway's one session.
#[derive(Debug, Clone)]
pub struct GatewaySession {
    pub id: String,
    pub last_request: DateTime<Utc>,
    /// The brokerage (trading) session: it can time out while the SSO one lives.
    pub brokerage: bool,
    /// Another login took the brokerage session.
    pub competing: bool,
}

#[derive(Debug, Default)]
pub struct Registry {
    pub codes: HashMap<String, CodeGrant>,
    pub access: HashMap<String, AccessGrant>,
    pub refresh: HashMap<String, RefreshGrant>,
    /// Dhan's consents, single-use like codes.
    pub consents: HashMap<String, CodeGrant>,
    /// OAuth 1.0a (E*TRADE): each request or access token's secret.
    pub token_secrets: HashMap<String, String>,
    /// OAuth 1.0a request tokens, single-use like codes: the verifier once
    /// the user has authorized.
    pub request_tokens: HashMap<String, RequestToken>,
    /// When each OAuth 1.0a access token was last used or renewed (E*TRADE
    /// lets a token idle two hours at most).
    pub last_used: HashMap<String, DateTime<Utc>>,
    /// Upstox's read-only tokens (extended, analytics): their APIs are few.
    pub read_only: std::collections::HashSet<String>,
    /// Each Upstox app's extended token, kept across logins.
    pub extended: HashMap<String, String>,
    /// The IBKR gateway's session, once the user logged in on its page.
    pub ibkr: Option<GatewaySession>,
    /// Each Upstox app's analytics token, one at a time.
    pub analytics: HashMap<String, String>,
    /// Issue order of access tokens, for `live_access_tokens`.
    order: Vec<String>,
}

/// Why a code could not be exchanged.
pub enum CodeRefusal {
    Unknown,
    Used,
    Expired,
    WrongClient,
}

impl Registry {
    pub fn issue_code(&mut self, client_id: &str, redirect_uri: Option<&str>, challenge: Option<String>) -> String {
        let code = crate::reply::random_token(12);
        self.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.map(str::to_owned),
                code_challenge: challenge,
                issued_at: Utc::now(),
                used: false,
            },
        );
        code
    }

    /// Takes a code once: like the real APIs, a code is spent even when the
    /// exchange then fails for another reason.
    pub fn take_code(&mut self, code: &str, client_id: &str, ttl: Duration) -> Result<CodeGrant, CodeRefusal> {
        let grant = self.codes.get_mut(code).ok_or(CodeRefusal::Unknown)?;
        if grant.used {
            return Err(CodeRefusal::Used);
        }
        grant.used = true;
        if grant.client_id != client_id {
            return Err(CodeRefusal::WrongClient);
        }
        if Utc::now() - grant.issued_at > chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::MAX) {
            return Err(CodeRefusal::Expired);
        }
        Ok(grant.clone())
    }

    /// A Dhan consent for `client_id`, good for one login.
    pub fn issue_consent(&mut self, client_id: &str) -> String {
        let id = uuid_like();
        let grant = CodeGrant {
            client_id: client_id.to_owned(),
            redirect_uri: None,
            code_challenge: None,
            issued_at: Utc::now(),
            used: false,
        };
        self.consents.insert(id.clone(), grant);
        id
    }

    /// Takes a consent once, for the login page.
    pub fn take_consent(&mut self, id: &str, ttl: Duration) -> Option<String> {
        let grant = self.consents.get_mut(id).filter(|g| !g.used)?;
        grant.used = true;
        let fresh = Utc::now() - grant.issued_at <= chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::MAX);
        fresh.then(|| grant.client_id.clone())
    }

    pub fn issue_access(&mut self, client_id: &str, expires_at: DateTime<Utc>, token: String) -> String {
        self.access.insert(token.clone(), AccessGrant { client_id: client_id.to_owned(), expires_at, revoked: false });
        self.order.push(token.clone());
        token
    }

    pub fn issue_refresh(&mut self, client_id: &str, login_at: DateTime<Utc>) -> String {
        let token = crate::reply::random_token(24);
        self.refresh.insert(token.clone(), RefreshGrant { client_id: client_id.to_owned(), login_at, revoked: false });
        token
    }

    pub fn access_valid(&self, token: &str, client_id: Option<&str>) -> bool {
        self.access
            .get(token)
            .is_some_and(|g| !g.revoked && g.expires_at > Utc::now() && client_id.is_none_or(|c| c == g.client_id))
    }

    pub fn access_client(&self, token: &str) -> Option<String> {
        self.access.get(token).map(|g| g.client_id.clone())
    }

    /// A token's refresh grant, if it is live and was issued to `client_id`.
    pub fn refresh_grant(&self, token: &str, client_id: &str) -> Option<RefreshGrant> {
        self.refresh.get(token).filter(|g| !g.revoked && g.client_id == client_id).cloned()
    }

    pub fn revoke_refresh(&mut self, token: &str) {
        if let Some(g) = self.refresh.get_mut(token) {
            g.revoked = true;
        }
    }

    pub fn revoke_access(&mut self, token: &str) -> bool {
        self.access.get_mut(token).map(|g| g.revoked = true).is_some()
    }

    /// A new login invalidates the user's earlier tokens for this client (Schwab does so).
    pub fn revoke_client_tokens(&mut self, client_id: &str) {
        self.access.values_mut().filter(|g| g.client_id == client_id).for_each(|g| g.revoked = true);
        self.refresh.values_mut().filter(|g| g.client_id == client_id).for_each(|g| g.revoked = true);
    }

    pub fn expire_access_tokens(&mut self) {
        let past = Utc::now() - chrono::TimeDelta::seconds(1);
        self.access.values_mut().for_each(|g| g.expires_at = g.expires_at.min(past));
    }

    pub fn revoke_refresh_tokens(&mut self) {
        self.refresh.values_mut().for_each(|g| g.revoked = true);
    }

    /// Ends every live access token of `client_id` (a broker that allows one token at a time).
    pub fn revoke_client_access(&mut self, client_id: &str) {
        self.access.values_mut().filter(|g| g.client_id == client_id).for_each(|g| g.revoked = true);
    }

    pub fn live_access_tokens(&self) -> Vec<String> {
        self.order.iter().filter(|t| self.access_valid(t, None)).cloned().collect()
    }
}

fn uuid_like() -> String {
    let hex = crate::reply::random_token(16);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

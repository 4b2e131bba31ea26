//! `[[account]]`: one broker login each, with every default resolved from
//! its provider's description (`tokentray_core::provider`).

use super::error::Wrong;
use super::market::{self, AccountMarket};
use super::thresholds::{self, RawThresholds};
use crate::duration;
use crate::redirect_uri::RedirectUri;
use crate::sinks::{default_fields, Field, SinkConfig, SinkFormat};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokentray_core::calendar::Calendar;
use tokentray_core::provider::{Check, Description, SecretNeed};
use tokentray_core::{Policy, ProviderKind, RetryPolicy, Span, Thresholds};
use toml::Spanned;
use url::Url;

/// How an OAuth2 client proves who it is at the token endpoint (RFC 6749 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// `Authorization: Basic base64(client_id:client_secret)`.
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// `[account.oauth2]`: a generic OAuth2 provider's endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Options {
    pub authorize_url: Url,
    pub token_url: Url,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default = "yes")]
    pub pkce: bool,
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// A URL that answers 2xx to `Authorization: Bearer` while the token works.
    pub profile_url: Option<Url>,
    /// RFC 7009 revocation endpoint, called on logout.
    pub revocation_url: Option<Url>,
    /// How long a refresh token works after the login, if the provider limits it.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub refresh_limit: Option<Span>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccount {
    pub id: Spanned<String>,
    provider: ProviderKind,
    #[serde(alias = "client_id", default)]
    api_key: String,
    redirect_uri: Option<RedirectUri>,
    user_id: Option<String>,
    label: Option<String>,
    api_base: Option<Url>,
    login_base: Option<Url>,
    thresholds: Option<Spanned<RawThresholds>>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    refresh_lead: Option<Span>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    validate_every: Option<Span>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    token_lifetime: Option<Span>,
    oauth2: Option<Spanned<OAuth2Options>>,
    /// The exchange whose trading days it follows (`"none"`: no market).
    exchange: Option<String>,
    /// The pre-market reminder's time in the exchange's zone (`"off"`: none).
    remind_at: Option<String>,
    #[serde(default, rename = "sink")]
    sinks: Vec<Spanned<RawSink>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSink {
    format: SinkFormat,
    path: PathBuf,
    fields: Option<BTreeMap<String, Field>>,
}

/// One account, with every default resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    pub id: String,
    /// The name people see in the tray and in notifications.
    pub label: String,
    pub provider: ProviderKind,
    /// Kite's api_key, or the OAuth2 client id.
    pub api_key: String,
    /// As written: providers compare it byte for byte.
    pub redirect_uri: RedirectUri,
    /// The broker's id of the user (Dhan's client id, which its login needs
    /// and every login is checked against).
    pub user_id: Option<String>,
    pub api_base: Url,
    pub login_base: Url,
    pub thresholds: Thresholds,
    pub refresh_lead: Option<Span>,
    pub validate_every: Span,
    /// Overrides the provider's expiry rule: for the sandbox, demos, and
    /// providers with non-standard cutoffs.
    pub token_lifetime: Option<Span>,
    pub oauth2: Option<OAuth2Options>,
    /// Files every new token is written to.
    pub sinks: Vec<SinkConfig>,
    /// The exchange it follows and when it is reminded before the open.
    pub market: AccountMarket,
    /// How long a call to its provider may take (the config's `http_timeout`).
    pub http_timeout: Span,
}

const DEFAULT_VALIDATE_EVERY: Span = Span::hours(1);

/// The redirect of a login whose code the user types (RFC 8252 7.3's URN
/// for "out of band"): nothing listens for it.
pub const OUT_OF_BAND: &str = "urn:ietf:wg:oauth:2.0:oob";

/// Resolves one `[[account]]`; `earlier` is the line of an account before
/// it with the same id, if there is one.
pub(crate) fn resolve(
    a: RawAccount,
    defaults: Thresholds,
    calendar: &Calendar,
    earlier: Option<usize>,
    http_timeout: Span,
) -> Result<AccountConfig, Wrong> {
    let id_span = a.id.span();
    let id = a.id.get_ref().clone();
    let at_id = |m: String| Wrong::at(id_span.clone(), format!("account `{id}`: {m}"));
    if let Some(m) = id_problem(&id) {
        return Err(Wrong::at(id_span.clone(), format!("id: {m}")));
    }
    if let Some(line) = earlier {
        return Err(at_id(format!("duplicate id; it is already used on line {line}")));
    }
    let described = a.provider.describe();
    if a.api_key.trim().is_empty() && described.needs_app_key() {
        return Err(at_id(
            "api_key is missing or empty: set it to the app's key from the broker's developer console".to_owned(),
        ));
    }
    let user_id = a.user_id.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
    // It goes into request headers (Dhan's `dhanClientId`) and bodies.
    if user_id.as_ref().is_some_and(|u| u.len() > 64 || !u.bytes().all(|b| b.is_ascii_graphic())) {
        return Err(at_id("user_id: use the id as the broker writes it: letters and digits, no spaces".to_owned()));
    }
    if let (Some(what), None) = (described.user_id, &user_id) {
        return Err(at_id(format!("provider `{}` needs user_id = \"<{what}>\"", a.provider)));
    }
    // Where the user types the code the broker shows, no redirect is
    // needed: the login is pasted (`oob`, RFC 8252's out-of-band).
    let redirect_uri = match (a.redirect_uri, described.login.redirects(), described.needs_redirect()) {
        (Some(_), false, _) => {
            return Err(at_id(format!(
                "provider `{}` never redirects (its login is {}): remove redirect_uri",
                a.provider,
                match described.login.typed_field() {
                    Some(_) => "a token copied from its page",
                    None => "watched on its gateway's page",
                }
            )))
        }
        (Some(uri), true, _) => uri,
        (None, _, false) => RedirectUri::parse(OUT_OF_BAND).expect("the out-of-band URN parses"),
        (None, _, true) => {
            return Err(at_id("redirect_uri is missing: the address registered with the broker's app".to_owned()))
        }
    };
    if !matches!(redirect_uri.scheme(), "http" | "https") && redirect_uri.as_str() != OUT_OF_BAND {
        return Err(at_id("redirect_uri must be an http:// or https:// URL".to_owned()));
    }
    let thresholds = match &a.thresholds {
        Some(t) => thresholds::resolve(defaults, t.get_ref())
            .map_err(|m| Wrong::at(t.span(), format!("account `{id}`: thresholds: {m}")))?,
        None => defaults,
    };
    let oauth2 = match (described.endpoints_in_config, a.oauth2) {
        (true, Some(o)) => Some(o.into_inner()),
        (true, None) => {
            return Err(at_id(format!(
                "provider `{}` needs an [account.oauth2] table with authorize_url and token_url",
                a.provider
            )))
        }
        (false, Some(o)) => {
            return Err(Wrong::at(
                o.span(),
                format!("account `{id}`: [account.oauth2] is only for provider = \"oauth2\", not `{}`", a.provider),
            ))
        }
        (false, None) => None,
    };
    for (name, d) in
        [("refresh_lead", a.refresh_lead), ("validate_every", a.validate_every), ("token_lifetime", a.token_lifetime)]
    {
        if d.is_some_and(|d| d <= Span::zero()) {
            return Err(at_id(format!("{name} must be longer than zero")));
        }
    }
    let mut sinks = Vec::with_capacity(a.sinks.len());
    for raw in &a.sinks {
        let sink = raw.get_ref();
        if sink.path.as_os_str().is_empty() {
            return Err(Wrong::at(raw.span(), format!("account `{id}`: sink path is empty")));
        }
        let fields = match &sink.fields {
            Some(fields) if !fields.is_empty() => fields.clone(),
            _ => default_fields(sink.format, a.provider),
        };
        sinks.push(SinkConfig { format: sink.format, path: crate::paths::expand_home(&sink.path), fields });
    }
    let market =
        market::account_market(a.provider, a.exchange.as_deref(), a.remind_at.as_deref(), calendar).map_err(at_id)?;
    let url = |s: &str| Url::parse(s).expect("the descriptions' URLs parse");
    let api_base = match (a.api_base, described.api_base, &oauth2) {
        (Some(base), _, _) => base,
        (None, Some(base), _) => url(base),
        (None, None, Some(o)) => o.token_url.clone(),
        (None, None, None) => return Err(at_id("api_base: this provider has none by default; set it".to_owned())),
    };
    let login_base = a.login_base.or(described.login_base.map(url)).unwrap_or_else(|| api_base.clone());
    // Each is called, or opened in the browser: a `file:` address or another
    // scheme would run or read something on this machine instead.
    let endpoints = oauth2
        .iter()
        .flat_map(|o| [("authorize_url", Some(&o.authorize_url)), ("token_url", Some(&o.token_url))])
        .chain([("api_base", Some(&api_base)), ("login_base", Some(&login_base))]);
    for (name, endpoint) in endpoints {
        if let Some(endpoint) = endpoint.filter(|u| !matches!(u.scheme(), "http" | "https") || u.host().is_none()) {
            return Err(at_id(format!("{name} must be an http:// or https:// address, not `{endpoint}`")));
        }
    }
    Ok(AccountConfig {
        label: a.label.unwrap_or_else(|| id.clone()),
        id,
        provider: a.provider,
        api_key: a.api_key.trim().to_owned(),
        redirect_uri,
        user_id,
        api_base,
        login_base,
        thresholds,
        refresh_lead: a.refresh_lead,
        validate_every: a.validate_every.unwrap_or(DEFAULT_VALIDATE_EVERY),
        token_lifetime: a.token_lifetime,
        oauth2,
        sinks,
        market,
        http_timeout,
    })
}

/// Ids name keyring entries, files and URLs: keep them to a safe alphabet.
fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("is empty".to_owned());
    }
    if id.len() > 64 {
        return Some(format!("`{id}` is longer than 64 characters"));
    }
    // It names files and store paths: never the directory itself or its parent.
    if id == "." || id == ".." {
        return Some(format!("`{id}` is not a name; use letters or digits too"));
    }
    id.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .map(|c| format!("`{id}` contains `{c}`; use letters, digits, `-`, `_` and `.`"))
}

impl AccountConfig {
    pub fn describe(&self) -> &'static Description {
        self.provider.describe()
    }

    /// Whether the provider has a call that tells if a token works (a
    /// generic OAuth2 provider only with a `profile_url`).
    pub fn can_validate(&self) -> bool {
        match self.describe().checks {
            Check::Always => true,
            Check::WithProfileUrl => self.oauth2.as_ref().is_some_and(|o| o.profile_url.is_some()),
        }
    }

    /// The lifecycle settings this account's config implies.
    pub fn policy(&self) -> Policy {
        let described = self.describe();
        Policy {
            thresholds: self.thresholds,
            refresh_lead: self.refresh_lead,
            validate_every: self.can_validate().then_some(self.validate_every),
            retry: RetryPolicy::default(),
            // A lifetime of its own replaces the provider's daily cutoff.
            cutoff: described.cutoff.filter(|_| self.token_lifetime.is_none()),
            market_hours: described.renewal_off_hours,
        }
    }

    /// Whether the provider needs the app's secret: a public OAuth2 client
    /// (PKCE) authenticates with its id alone, and Angel One's publisher
    /// login with its api key.
    pub fn needs_secret(&self) -> bool {
        match self.describe().secret {
            SecretNeed::Always => true,
            SecretNeed::UnlessPkce => !self.oauth2.as_ref().is_some_and(|o| o.pkce),
            SecretNeed::Never => false,
        }
    }

    /// How many refusals of the same credentials in a row TokenTray tries
    /// before it stops, short of any broker lock-out (the description says
    /// why for each).
    pub fn credential_tries(&self) -> u32 {
        self.describe().credential_tries
    }

    /// What to do when the provider refuses the app's credentials.
    pub fn credentials_fix(&self) -> String {
        match self.describe().pin {
            true => format!(
                "check api_key in the config, store the right api secret with `tokentray secret set {0}`, then the \
                 PIN with `tokentray secret set {0} --pin`, last: storing the PIN starts renewal again (the broker \
                 does not say which of the two it refused)",
                self.id
            ),
            false => format!(
                "check api_key in the config, then store the right api secret with `tokentray secret set {}`",
                self.id
            ),
        }
    }

    /// What the status says when renewal stopped over this account's
    /// credentials, and how to fix them.
    pub fn credentials_trouble(&self) -> String {
        match self.describe().pin {
            true => format!(
                "the api secret or the PIN is missing or wrong (`tokentray secret set {0}`, then \
                 `tokentray secret set {0} --pin`)",
                self.id
            ),
            false => format!("the provider rejected the api secret (`tokentray secret set {}`)", self.id),
        }
    }

    /// How long a refresh token works after the login, where the provider says.
    pub fn refresh_limit(&self) -> Option<Span> {
        self.describe().refresh_limit.or(self.oauth2.as_ref().and_then(|o| o.refresh_limit))
    }
}

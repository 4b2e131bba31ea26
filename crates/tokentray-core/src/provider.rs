//! (Over 450 lines on purpose: the table is one place, each provider read
//! beside the others, field by field.)
//!
//! Every provider TokenTray speaks, each described once: its names, when
//! its tokens die, whether and how they renew, what it can check, the
//! exchange its users trade on, the header its API takes, the names
//! scripts read its values under, and the shape of its login. The config's
//! defaults, the lifecycle's policy, the error words, the sinks' names and
//! the window's form are derived from these descriptions; the protocol
//! itself is each provider's adapter file (`tokentray-adapters`), its
//! emulation the sandbox's; its facts' sources are in its adapter file's
//! header, and in `docs/providers/` for the providers added since Fyers.

use crate::expiry::{
    DailyCutoff, MarketHours, BREEZE_CUTOFF, FYERS_CUTOFF, KITE_CUTOFF, NSE_HOURS, SCHWAB_REFRESH_LIMIT, UPSTOX_CUTOFF,
};
use crate::Span;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The protocols TokenTray speaks; [`ProviderKind::describe`] says the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Kite,
    Upstox,
    Schwab,
    Fyers,
    Dhan,
    AngelOne,
    Tastytrade,
    Etrade,
    Breeze,
    /// Interactive Brokers' Client Portal gateway (Web API), whose session
    /// is kept alive rather than a token renewed.
    Ibkr,
    /// Upstox's year-long read-only token, made by the daily login's exchange.
    UpstoxExtended,
    /// Upstox's year-long read-only analytics token, made in its developer console.
    UpstoxAnalytics,
    /// Any other OAuth2 provider, its endpoints in the account's config.
    OAuth2,
}

/// How a provider's tokens are renewed without the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Renewal {
    /// Never: only a login makes a new token.
    LoginOnly,
    /// With the refresh token a login gave, when it gave one.
    RefreshToken,
    /// The live access token renews itself, until it dies.
    ItselfWhileValid,
    /// The live access token is renewed in place: the same token, alive
    /// longer (E*TRADE's `renew_access_token`).
    InPlace,
}

/// Whether the provider has a call that tells if a token works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Always,
    /// Only with a `profile_url` in the account's `[account.oauth2]`.
    WithProfileUrl,
}

/// Whether the app's api secret is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretNeed {
    Always,
    /// Not for a public client with PKCE.
    UnlessPkce,
    /// Never (Angel One's publisher login takes the api key alone).
    Never,
}

/// What the login's redirect carries of the `state` TokenTray sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateEcho {
    /// Always, unchanged: a redirect without it is refused.
    Always,
    /// Sometimes: when present it must match.
    Sometimes,
    /// Never: the login is tied to the account by the client id the broker names.
    Never,
    /// OAuth 1.0a: the redirect's `oauth_token` is the request token the
    /// login began with, and must match; a verification code the user types
    /// carries none (the broker ties the code to the request token).
    RequestToken,
}

/// How a login reaches TokenTray.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "field", rename_all = "snake_case")]
pub enum LoginShape {
    /// The broker redirects to the account's `redirect_uri`.
    Redirect,
    /// A redirect where the account has one (a callback the broker
    /// registered); else the broker shows a code to type, read as this
    /// query field (E*TRADE's verifier, Breeze's API session).
    RedirectOrTyped(&'static str),
    /// The broker shows a token to copy and never redirects (Upstox's
    /// analytics console): it is pasted, read as this field.
    Typed(&'static str),
    /// On the broker's own gateway page, over when the gateway says the
    /// session is authenticated: watched, not redirected (IBKR's).
    Watched,
}

impl LoginShape {
    /// The field a typed code or pasted token is read as, where there is one.
    pub fn typed_field(self) -> Option<&'static str> {
        match self {
            Self::RedirectOrTyped(field) | Self::Typed(field) => Some(field),
            Self::Redirect | Self::Watched => None,
        }
    }

    /// Whether the broker ever redirects to the account's `redirect_uri`.
    pub fn redirects(self) -> bool {
        matches!(self, Self::Redirect | Self::RedirectOrTyped(_))
    }
}

/// A value a sink writes or `exec` puts in the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    AccessToken,
    ApiKey,
    /// Angel One's feed token (empty for other providers).
    FeedToken,
    /// The OAuth 1.0a token secret that signs requests with the access
    /// token (E*TRADE; empty for other providers).
    TokenSecret,
    UserId,
    /// The access token's expiry, RFC 3339.
    ExpiresAt,
    Account,
}

/// The header the provider's API takes the token in: its name, and its
/// value with `{api_key}` and `{access_token}` in their places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AuthHeader {
    pub name: &'static str,
    pub value: &'static str,
}

impl AuthHeader {
    pub fn value_with(&self, api_key: &str, access_token: &str) -> String {
        self.value.replace("{api_key}", api_key).replace("{access_token}", access_token)
    }
}

/// One provider, as TokenTray knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Description {
    pub kind: ProviderKind,
    /// In the config, the API and the window: `provider = "kite"`.
    pub id: &'static str,
    /// Short, in notifications and the tray title.
    pub name: &'static str,
    /// In the window's list of providers.
    pub long_name: &'static str,
    /// Where its API and login live, unless the config says otherwise
    /// (`None`: the config must say, as for a generic OAuth2 provider).
    pub api_base: Option<&'static str>,
    pub login_base: Option<&'static str>,
    /// Its endpoints are the account's own (`[account.oauth2]`).
    pub endpoints_in_config: bool,
    /// The time of day (IST) at which it ends every token, if it does.
    pub cutoff: Option<DailyCutoff>,
    /// How long a refresh token works after the login, where fixed.
    pub refresh_limit: Option<Span>,
    pub renewal: Renewal,
    /// Hours renewals keep out of: a renewal that ends the token in use
    /// must not cut off the bots while they trade.
    pub renewal_off_hours: Option<MarketHours>,
    pub checks: Check,
    /// The exchange whose trading days its users follow by default.
    pub exchange: Option<&'static str>,
    pub secret: SecretNeed,
    /// Renewals carry the user's trading PIN, a second secret a login does not prove.
    pub pin: bool,
    /// The account's `user_id` is required, named so for the user: the
    /// login is tied to the account by the client id the broker names.
    pub user_id: Option<&'static str>,
    /// Refusals of the same credentials in a row before TokenTray stops,
    /// short of any lock-out at the broker.
    pub credential_tries: u32,
    pub state: StateEcho,
    /// How the login reaches TokenTray.
    pub login: LoginShape,
    /// The user's app (its key) is part of the login. Not for a token made
    /// elsewhere and pasted (Upstox's analytics token), nor for a gateway's
    /// own login (IBKR's).
    pub app_key: bool,
    /// The header its API takes the token in; `None` where every request is
    /// signed instead (E*TRADE's OAuth 1.0a, Breeze's checksum).
    pub header: Option<AuthHeader>,
    /// The environment names scripts read its values under (`.env` sinks, `exec`).
    pub env: &'static [(&'static str, Field)],
    /// Its tokens read but cannot place orders (Upstox's extended and
    /// analytics tokens): every surface says so.
    pub read_only: bool,
    /// Where its facts come from.
    pub sources: &'static str,
}

const BEARER: AuthHeader = AuthHeader { name: "Authorization", value: "Bearer {access_token}" };

/// Every provider, in `ProviderKind` order (a test checks it).
pub static PROVIDERS: &[Description] = &[
    Description {
        kind: ProviderKind::Kite,
        id: "kite",
        name: "Kite",
        long_name: "Zerodha Kite",
        api_base: Some("https://api.kite.trade"),
        login_base: Some("https://kite.zerodha.com"),
        endpoints_in_config: false,
        cutoff: Some(KITE_CUTOFF),
        refresh_limit: None,
        renewal: Renewal::RefreshToken,
        renewal_off_hours: None,
        checks: Check::Always,
        exchange: Some("NSE"),
        secret: SecretNeed::Always,
        pin: false,
        user_id: None,
        // Zerodha's five wrong tries concern its web login (support.zerodha.com);
        // none is documented for the API's credentials.
        credential_tries: 3,
        state: StateEcho::Always,
        login: LoginShape::Redirect,
        app_key: true,
        header: Some(AuthHeader { name: "Authorization", value: "token {api_key}:{access_token}" }),
        env: &[("KITE_API_KEY", Field::ApiKey), ("KITE_ACCESS_TOKEN", Field::AccessToken)],
        read_only: false,
        sources: "Kite Connect v3 docs (kite.trade/docs/connect/v3/user/), pykiteconnect",
    },
    Description {
        kind: ProviderKind::Upstox,
        id: "upstox",
        name: "Upstox",
        long_name: "Upstox",
        api_base: Some("https://api.upstox.com"),
        login_base: None,
        endpoints_in_config: false,
        cutoff: Some(UPSTOX_CUTOFF),
        refresh_limit: None,
        renewal: Renewal::LoginOnly,
        renewal_off_hours: None,
        checks: Check::Always,
        exchange: Some("NSE"),
        secret: SecretNeed::Always,
        pin: false,
        user_id: None,
        credential_tries: 3,
        state: StateEcho::Always,
        login: LoginShape::Redirect,
        app_key: true,
        header: Some(BEARER),
        env: &[("UPSTOX_ACCESS_TOKEN", Field::AccessToken)],
        read_only: false,
        sources: "Upstox API docs (upstox.com/developer/api-documentation/get-token)",
    },
    Description {
        kind: ProviderKind::Schwab,
        id: "schwab",
        name: "Schwab",
        long_name: "Charles Schwab",
        api_base: Some("https://api.schwabapi.com"),
        login_base: None,
        endpoints_in_config: false,
        cutoff: None,
        refresh_limit: Some(SCHWAB_REFRESH_LIMIT),
        renewal: Renewal::RefreshToken,
        renewal_off_hours: None,
        checks: Check::Always,
        exchange: Some("NYSE"),
        secret: SecretNeed::Always,
        pin: false,
        user_id: None,
        credential_tries: 3,
        state: StateEcho::Always,
        login: LoginShape::Redirect,
        app_key: true,
        header: Some(BEARER),
        env: &[("SCHWAB_ACCESS_TOKEN", Field::AccessToken)],
        read_only: false,
        sources: "Schwab Trader API docs; alexgolec/schwab-py docs/auth.rst",
    },
    Description {
        kind: ProviderKind::Fyers,
        id: "fyers",
        name: "Fyers",
        long_name: "Fyers",
        api_base: Some("https://api-t1.fyers.in"),
        login_base: None,
        endpoints_in_config: false,
        cutoff: Some(FYERS_CUTOFF),
        refresh_limit: None,
        renewal: Renewal::RefreshToken,
        renewal_off_hours: None,
        checks: Check::Always,
        exchange: Some("NSE"),
        secret: SecretNeed::Always,
        pin: true,
        user_id: None,
        // The PIN is a trading PIN whose wrong-entry limit Fyers does not publish: once.
        credential_tries: 1,
        state: StateEcho::Always,
        login: LoginShape::Redirect,
        app_key: true,
        header: Some(AuthHeader { name: "Authorization", value: "{api_key}:{access_token}" }),
        env: &[("FYERS_APP_ID", Field::ApiKey), ("FYERS_ACCESS_TOKEN", Field::AccessToken)],
        read_only: false,
        sources: "docs/providers/fyers.md",
    },
    Description {
        kind: ProviderKind::Dhan,
        id: "dhan",
        name: "Dhan",
        long_name: "Dhan",
        api_base: Some("https://api.dhan.co"),
        login_base: Some("https://auth.dhan.co"),
        endpoints_in_config: false,
        cutoff: None,
        refresh_limit: None,
        renewal: Renewal::ItselfWhileValid,
        // Its renewal ends the token in use: not while bots trade.
        renewal_off_hours: Some(NSE_HOURS),
        checks: Check::Always,
        exchange: Some("NSE"),
        secret: SecretNeed::Always,
        pin: false,
        user_id: Some("your Dhan client id"),
        credential_tries: 3,
        state: StateEcho::Never,
        login: LoginShape::Redirect,
        app_key: true,
        header: Some(AuthHeader { name: "access-token", value: "{access_token}" }),
        env: &[("DHAN_CLIENT_ID", Field::UserId), ("DHAN_ACCESS_TOKEN", Field::AccessToken)],
        read_only: false,
        sources: "docs/providers/dhan.md",
    },
    Description {
        kind: ProviderKind::AngelOne,
        id: "angelone",
        name: "Angel One",
        long_name: "Angel One",
        api_base: Some("https://apiconnect.angelone.in"),
        login_base: Some("https://smartapi.angelone.in"),
        endpoints_in_config: false,
        cutoff: None,
        refresh_limit: None,
        renewal: Renewal::RefreshToken,
        renewal_off_hours: None,
        checks: Check::Always,
        exchange: Some("NSE"),
        secret: SecretNeed::Never,
        pin: false,
        user_id: Some("your Angel One client code"),
        credential_tries: 3,
        state: StateEcho::Sometimes,
        login: LoginShape::Redirect,
        app_key: true,
        header: Some(BEARER),
        env: &[
            ("ANGELONE_API_KEY", Field::ApiKey),
            ("ANGELONE_ACCESS_TOKEN", Field::AccessToken),
            ("ANGELONE_FEED_TOKEN", Field::FeedToken),
        ],
        read_only: false,
        sources: "docs/providers/angelone.md",
    },
    Description {
        kind: ProviderKind::Tastytrade,
        id: "tastytrade",
        name: "tastytrade",
        long_name: "Tastytrade",
        api_base: Some("https://api.tastyworks.com"),
        login_base: Some("https://my.tastytrade.com"),
        endpoints_in_config: false,
        cutoff: None,
        refresh_limit: None,
        renewal: Renewal::RefreshToken,
        renewal_off_hours: None,
        checks: Check::Always,
        exchange: Some("NYSE"),
        secret: SecretNeed::Always,
        pin: false,
        user_id: None,
        credential_tries: 3,
        state: StateEcho::Always,
        login: LoginShape::Redirect,
        app_key: true,
        header: Some(BEARER),
        env: &[("TASTYTRADE_ACCESS_TOKEN", Field::AccessToken)],
        read_only: false,
        sources: "docs/providers/tastytrade.md",
    },
    Description {
        kind: ProviderKind::Etrade,
        id: "etrade",
        name: "E*TRADE",
        long_name: "E*TRADE from Morgan Stanley",
        api_base: Some("https://api.etrade.com"),
        login_base: Some("https://us.etrade.com"),
        endpoints_in_config: false,
        // Midnight US Eastern, with daylight saving: `expiry::new_york_midnight_after`.
        cutoff: None,
        refresh_limit: None,
        renewal: Renewal::InPlace,
        renewal_off_hours: None,
        checks: Check::Always,
        exchange: Some("NYSE"),
        secret: SecretNeed::Always,
        pin: false,
        user_id: None,
        credential_tries: 3,
        state: StateEcho::RequestToken,
        login: LoginShape::RedirectOrTyped("oauth_verifier"),
        app_key: true,
        header: None,
        env: &[
            ("ETRADE_CONSUMER_KEY", Field::ApiKey),
            ("ETRADE_OAUTH_TOKEN", Field::AccessToken),
            ("ETRADE_OAUTH_TOKEN_SECRET", Field::TokenSecret),
        ],
        read_only: false,
        sources: "docs/providers/etrade.md",
    },
    Description {
        kind: ProviderKind::Breeze,
        id: "breeze",
        name: "Breeze",
        long_name: "ICICI Direct Breeze",
        api_base: Some("https://api.icicidirect.com"),
        login_base: Some("https://api.icicidirect.com"),
        endpoints_in_config: false,
        cutoff: Some(BREEZE_CUTOFF),
        refresh_limit: None,
        renewal: Renewal::LoginOnly,
        renewal_off_hours: None,
        checks: Check::Always,
        exchange: Some("NSE"),
        // The session is made and checked with the app key alone; the
        // secret signs the scripts' own calls (their SDK holds it).
        secret: SecretNeed::Never,
        pin: false,
        user_id: Some("your ICICI Direct user id"),
        credential_tries: 3,
        state: StateEcho::Never,
        // "you will have an API_Session in the address bar": a value to copy
        // where the redirect lands on no page of TokenTray's.
        login: LoginShape::RedirectOrTyped("apisession"),
        app_key: true,
        header: None,
        env: &[("BREEZE_API_KEY", Field::ApiKey), ("BREEZE_API_SESSION", Field::AccessToken)],
        read_only: false,
        sources: "docs/providers/breeze.md",
    },
    Description {
        kind: ProviderKind::Ibkr,
        id: "ibkr",
        name: "IBKR",
        long_name: "Interactive Brokers (Client Portal gateway)",
        // The gateway the user runs, on this machine (IBKR: "all API
        // endpoint calls must be made on the same machine").
        api_base: Some("https://localhost:5000"),
        login_base: Some("https://localhost:5000"),
        endpoints_in_config: false,
        // Midnight in New York (its North American region): `expiry::ibkr_reset`.
        cutoff: None,
        refresh_limit: None,
        renewal: Renewal::InPlace,
        renewal_off_hours: None,
        checks: Check::Always,
        exchange: Some("NYSE"),
        secret: SecretNeed::Never,
        pin: false,
        user_id: None,
        credential_tries: 3,
        state: StateEcho::Never,
        login: LoginShape::Watched,
        app_key: false,
        // Scripts call the gateway, which holds the session: no header.
        header: None,
        env: &[("IBKR_SESSION", Field::AccessToken)],
        read_only: false,
        sources: "docs/providers/ibkr.md",
    },
    Description {
        kind: ProviderKind::UpstoxExtended,
        id: "upstox-extended",
        name: "Upstox (read-only)",
        long_name: "Upstox extended token (read-only, a year)",
        api_base: Some("https://api.upstox.com"),
        login_base: None,
        endpoints_in_config: false,
        cutoff: None,
        refresh_limit: None,
        renewal: Renewal::LoginOnly,
        renewal_off_hours: None,
        checks: Check::Always,
        exchange: None,
        secret: SecretNeed::Always,
        pin: false,
        user_id: None,
        credential_tries: 3,
        state: StateEcho::Always,
        login: LoginShape::Redirect,
        app_key: true,
        header: Some(BEARER),
        env: &[("UPSTOX_EXTENDED_TOKEN", Field::AccessToken)],
        read_only: true,
        sources: "docs/providers/upstox.md",
    },
    Description {
        kind: ProviderKind::UpstoxAnalytics,
        id: "upstox-analytics",
        name: "Upstox (analytics)",
        long_name: "Upstox analytics token (read-only, a year)",
        api_base: Some("https://api.upstox.com"),
        // Where the token is made: the developer console's Analytics tab.
        login_base: Some("https://account.upstox.com/developer/apps"),
        endpoints_in_config: false,
        cutoff: None,
        refresh_limit: None,
        renewal: Renewal::LoginOnly,
        renewal_off_hours: None,
        checks: Check::Always,
        exchange: None,
        secret: SecretNeed::Never,
        pin: false,
        user_id: None,
        credential_tries: 3,
        // The user copies the token from the console: no redirect, no state.
        state: StateEcho::Never,
        login: LoginShape::Typed("analytics_token"),
        app_key: false,
        header: Some(BEARER),
        env: &[("UPSTOX_ANALYTICS_TOKEN", Field::AccessToken)],
        read_only: true,
        sources: "docs/providers/upstox.md",
    },
    Description {
        kind: ProviderKind::OAuth2,
        id: "oauth2",
        name: "OAuth2",
        long_name: "Other OAuth2",
        api_base: None,
        login_base: None,
        endpoints_in_config: true,
        cutoff: None,
        refresh_limit: None,
        renewal: Renewal::RefreshToken,
        renewal_off_hours: None,
        checks: Check::WithProfileUrl,
        exchange: None,
        secret: SecretNeed::UnlessPkce,
        pin: false,
        user_id: None,
        credential_tries: 3,
        state: StateEcho::Always,
        login: LoginShape::Redirect,
        app_key: true,
        header: Some(BEARER),
        env: &[("TOKENTRAY_ACCESS_TOKEN", Field::AccessToken)],
        read_only: false,
        sources: "RFC 6749, RFC 7636 (PKCE), RFC 7009 (revocation)",
    },
];

impl Description {
    /// An app of the user's (its key) is part of the login.
    pub fn needs_app_key(&self) -> bool {
        self.app_key
    }

    /// A redirect address must be configured: where the login lands. Not
    /// where the user may type a code instead (E*TRADE's default, Breeze's),
    /// nor where nothing redirects (Upstox's console, IBKR's gateway).
    pub fn needs_redirect(&self) -> bool {
        self.login == LoginShape::Redirect
    }

    /// Every request is signed with the app's secret (E*TRADE's OAuth 1.0a):
    /// even a check needs the secret.
    pub fn signs_requests(&self) -> bool {
        self.header.is_none() && self.secret == SecretNeed::Always
    }
}

impl ProviderKind {
    /// Every provider, in order.
    pub fn all() -> impl Iterator<Item = ProviderKind> {
        PROVIDERS.iter().map(|d| d.kind)
    }

    pub fn describe(self) -> &'static Description {
        &PROVIDERS[self as usize]
    }

    /// The id the config, the API and the window use.
    pub fn as_str(self) -> &'static str {
        self.describe().id
    }

    /// A name for people: notifications and the tray title.
    pub fn display_name(self) -> &'static str {
        self.describe().name
    }

    pub fn from_id(id: &str) -> Option<Self> {
        PROVIDERS.iter().find(|d| d.id == id).map(|d| d.kind)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProviderKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProviderKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        Self::from_id(&id).ok_or_else(|| {
            let known: Vec<&str> = PROVIDERS.iter().map(|p| p.id).collect();
            serde::de::Error::custom(format!("unknown provider `{id}`, expected one of {}", known.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_kind_order_with_unique_ids() {
        for (i, d) in PROVIDERS.iter().enumerate() {
            assert_eq!(d.kind as usize, i, "{} is out of place", d.id);
            assert_eq!(ProviderKind::from_id(d.id), Some(d.kind));
            assert_eq!(serde_json::to_value(d.kind).unwrap(), d.id);
        }
        let mut ids: Vec<&str> = PROVIDERS.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), PROVIDERS.len());
    }

    #[test]
    fn an_unknown_provider_names_the_known_ones() {
        let e = serde_json::from_value::<ProviderKind>(serde_json::json!("zerodha")).unwrap_err().to_string();
        assert!(e.contains("unknown provider `zerodha`") && e.contains("kite, upstox"), "{e}");
    }

    #[test]
    fn headers_put_the_token_in_its_place() {
        let kite = ProviderKind::Kite.describe().header.unwrap();
        assert_eq!((kite.name, kite.value_with("key", "tok").as_str()), ("Authorization", "token key:tok"));
        assert_eq!(ProviderKind::Dhan.describe().header.unwrap().value_with("k", "tok"), "tok");
        assert!(ProviderKind::Etrade.describe().header.is_none(), "E*TRADE signs every request");
    }
}

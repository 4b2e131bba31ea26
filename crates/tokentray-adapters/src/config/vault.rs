//! The `[vault]` table: where the shared store is and how TokenTray signs in
//! to it (`storage = "vault"`). HashiCorp Vault and OpenBao speak the same API.

use crate::duration;
use serde::Deserialize;
use std::path::PathBuf;
use tokentray_core::Span;
use url::Url;

/// How TokenTray proves itself to Vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultAuth {
    /// A Vault token from the environment variable named here, else from
    /// this machine's local secret store (`tokentray secret set --vault-token`).
    Token { env: String },
    /// AppRole: the role id is not secret; the secret id is read from a file
    /// (0600) or this machine's local secret store (`--vault-secret-id`).
    AppRole { mount: String, role_id: String, secret_id_file: Option<PathBuf> },
}

/// Where this machine keeps its own keys (the local API key, the journal
/// key, the Vault token or secret id): never in the shared store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocalSecrets {
    #[default]
    Keyring,
    Plaintext,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultConfig {
    pub address: Url,
    /// The KV version 2 secrets engine's mount.
    pub mount: String,
    /// Every path TokenTray uses starts with it.
    pub prefix: String,
    pub namespace: Option<String>,
    /// A PEM file with the CA that signed the server's certificate.
    pub ca_cert: Option<PathBuf>,
    pub auth: VaultAuth,
    /// How long a daemon holds an account while it renews its token.
    pub lease: Span,
    /// How often the other daemons look for a new version.
    pub poll: Span,
    pub local_secrets: LocalSecrets,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVault {
    address: String,
    #[serde(default = "default_mount")]
    mount: String,
    #[serde(default = "default_prefix")]
    prefix: String,
    namespace: Option<String>,
    ca_cert: Option<PathBuf>,
    #[serde(default = "default_auth")]
    auth: String,
    #[serde(default = "default_token_env")]
    token_env: String,
    role_id: Option<String>,
    secret_id_file: Option<PathBuf>,
    #[serde(default = "default_approle_mount")]
    approle_mount: String,
    #[serde(default, deserialize_with = "duration::deserialize_positive_opt")]
    lease: Option<Span>,
    #[serde(default, deserialize_with = "duration::deserialize_positive_opt")]
    poll: Option<Span>,
    #[serde(default)]
    local_secrets: LocalSecrets,
}

fn default_mount() -> String {
    "secret".to_owned()
}
fn default_prefix() -> String {
    "tokentray".to_owned()
}
fn default_auth() -> String {
    "token".to_owned()
}
fn default_token_env() -> String {
    "VAULT_TOKEN".to_owned()
}
fn default_approle_mount() -> String {
    "approle".to_owned()
}

const DEFAULT_LEASE: Span = Span::seconds(30);
const DEFAULT_POLL: Span = Span::seconds(1);

/// A mount or path prefix: segments of letters, digits, `-`, `_` and `.`,
/// never `..`, so no value can reach outside what the policy names.
fn path_problem(what: &str, value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    (!ok).then(|| {
        format!(
            "{what} = {value:?}: write path segments of letters, digits, '-', '_' and '.', separated by '/', \
             with no '/' at either end"
        )
    })
}

/// Resolves the table; `http_timeout` bounds each provider call, which a lease must outlast.
/// `[vault]` as the top's `storage` wants it (`wanted`: `storage = "vault"`):
/// resolved then, and refused without it.
pub(crate) fn section(
    wanted: bool,
    raw: Option<toml::Spanned<RawVault>>,
    http_timeout: Span,
) -> Result<Option<VaultConfig>, super::error::Wrong> {
    use super::error::Wrong;
    match (wanted, raw) {
        (true, Some(v)) => {
            let span = v.span();
            resolve(v.into_inner(), http_timeout).map(Some).map_err(|m| Wrong::at(span, format!("[vault] {m}")))
        }
        (true, None) => {
            Err(Wrong::top("storage = \"vault\" needs a [vault] table with at least address = \"https://...\""))
        }
        (false, Some(v)) => Err(Wrong::at(
            v.span(),
            "[vault] is used only with storage = \"vault\" at the top of the file: add that, or remove the table",
        )),
        (false, None) => Ok(None),
    }
}

fn resolve(raw: RawVault, http_timeout: Span) -> Result<VaultConfig, String> {
    // Errors never repeat the address as written: it might carry a password.
    let address = Url::parse(raw.address.trim())
        .map_err(|e| format!("address: {e}; write it as https://vault.example.com:8200"))?;
    if !address.username().is_empty() || address.password().is_some() {
        return Err("address: write no user or password in it; TokenTray signs in with auth".to_owned());
    }
    let loopback = match address.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match address.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "address = \"{address}\": use https; the Vault token and every broker token would cross the \
                 network unencrypted (plain http is accepted on loopback only)"
            ))
        }
        other => return Err(format!("address = \"{address}\": the scheme must be https, not {other}")),
    }
    if address.host().is_none() || address.query().is_some() || address.fragment().is_some() || address.path() != "/" {
        return Err(format!("address = \"{address}\": write only scheme, host and port"));
    }
    if let Some(m) = path_problem("mount", &raw.mount).or_else(|| path_problem("prefix", &raw.prefix)) {
        return Err(m);
    }
    let namespace = raw.namespace.map(|n| n.trim_matches('/').to_owned()).filter(|n| !n.is_empty());
    if let Some(m) = namespace.as_deref().and_then(|n| path_problem("namespace", n)) {
        return Err(m);
    }
    let auth = match raw.auth.as_str() {
        "token" => {
            if raw.role_id.is_some() || raw.secret_id_file.is_some() {
                return Err("role_id and secret_id_file are for auth = \"approle\"".to_owned());
            }
            if raw.token_env.is_empty() || !raw.token_env.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("token_env = {:?}: name an environment variable", raw.token_env));
            }
            VaultAuth::Token { env: raw.token_env }
        }
        "approle" => {
            let role_id = raw.role_id.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).ok_or_else(|| {
                "auth = \"approle\" needs role_id = \"...\" (the role id is not secret; the secret id goes in \
                 secret_id_file or `tokentray secret set --vault-secret-id`)"
                    .to_owned()
            })?;
            if let Some(m) = path_problem("approle_mount", &raw.approle_mount) {
                return Err(m);
            }
            let secret_id_file = raw.secret_id_file.map(|p| crate::paths::expand_home(&p));
            VaultAuth::AppRole { mount: raw.approle_mount, role_id, secret_id_file }
        }
        other => return Err(format!("auth = {other:?}: write \"token\" or \"approle\"")),
    };
    // A holder must finish the provider call and store its answer (a read
    // and a write in Vault) within its lease: three calls' time at most.
    let floor = http_timeout * 3;
    let lease = raw.lease.unwrap_or(DEFAULT_LEASE.max(floor));
    if lease < floor {
        return Err(format!(
            "lease = \"{}s\": make it at least three times http_timeout ({}s), so a renewal is called and \
             stored within its lease",
            lease.num_seconds(),
            http_timeout.num_seconds()
        ));
    }
    let poll = raw.poll.unwrap_or(DEFAULT_POLL);
    if poll < Span::seconds(1) || poll > Span::minutes(10) {
        return Err("poll: write a duration from 1s to 10m".to_owned());
    }
    Ok(VaultConfig {
        address,
        mount: raw.mount,
        prefix: raw.prefix,
        namespace,
        ca_cert: raw.ca_cert.map(|p| crate::paths::expand_home(&p)),
        auth,
        lease,
        poll,
        local_secrets: raw.local_secrets,
    })
}

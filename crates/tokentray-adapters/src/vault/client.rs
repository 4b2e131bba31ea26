//! A small typed client for what TokenTray asks of Vault (and OpenBao,
//! which keeps Vault's API): KV version 2 reads, check-and-set writes and
//! metadata, the token's own lookup and renewal, and the AppRole login.
//!
//! Written on the HTTP stack every provider call already uses rather than
//! with `vaultrs`: these are seven endpoints, and `vaultrs` would bring a
//! second HTTP layer (`rustify`) and its own reqwest version into the tree.
//! The API is documented at openbao.org/api-docs (secret/kv/kv-v2,
//! auth/token, auth/approle), the same as developer.hashicorp.com/vault/api-docs.

use super::error::{errors_of, VaultError};
use super::local::LocalCredentials;
use crate::config::vault::VaultConfig;
use crate::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A KV answer larger than this is not one TokenTray wrote.
const MAX_ANSWER: usize = 1 << 20;

/// A version of a KV entry as read: its data and its version number. The
/// data of a deleted version is empty, and its number still the one a
/// check-and-set write must name.
#[derive(Clone)]
pub struct Versioned {
    pub data: serde_json::Map<String, Value>,
    pub version: u64,
}

/// The data holds tokens: only the version and the keys are printed.
impl std::fmt::Debug for Versioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Versioned").field("version", &self.version).field("keys", &self.data.keys()).finish()
    }
}

/// What Vault says of the token TokenTray uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenStanding {
    /// Seconds left; `None` for a token that never expires (a root token).
    pub ttl: Option<u64>,
    /// The ttl it was issued with.
    pub creation_ttl: Option<u64>,
    pub renewable: bool,
    /// Seconds until renewals can take it no further (its explicit max ttl),
    /// if it has one.
    pub max_left: Option<u64>,
}

/// Longer than any token lives: larger figures from a server are cut to it.
const TEN_YEARS: u64 = 10 * 365 * 86_400;

/// The client; cheap to clone (all clones share the token in use).
#[derive(Clone)]
pub struct VaultClient {
    pub(super) config: Arc<VaultConfig>,
    http: reqwest::Client,
    /// This machine's own secret store: the Vault token or AppRole secret id.
    pub(super) local: Arc<dyn LocalCredentials>,
    pub(super) token: Arc<Mutex<Option<Secret>>>,
}

impl std::fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultClient").field("address", &self.config.address.as_str()).finish_non_exhaustive()
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl VaultClient {
    /// A client over its own HTTP client (its CA may differ from the
    /// providers'); `pooled: false` keeps no connection between calls, for
    /// use from short-lived runtimes.
    pub fn new(
        config: VaultConfig,
        local: Arc<dyn LocalCredentials>,
        timeout: Duration,
        pooled: bool,
    ) -> Result<Self, VaultError> {
        let http = http_client(&config, timeout, pooled)?;
        Ok(Self { config: Arc::new(config), http, local, token: Arc::new(Mutex::new(None)) })
    }

    /// The same client over a connection-less HTTP client, sharing the token.
    pub fn unpooled(&self, timeout: Duration) -> Result<Self, VaultError> {
        Ok(Self { http: http_client(&self.config, timeout, false)?, ..self.clone() })
    }

    pub fn config(&self) -> &VaultConfig {
        &self.config
    }

    /// `mount/prefix`, for status lines and the README's templates.
    pub fn location(&self) -> String {
        format!("{}/{}", self.config.mount, self.config.prefix)
    }

    fn url(&self, api_path: &str) -> String {
        format!("{}v1/{api_path}", ensure_slash(self.config.address.as_str()))
    }

    fn data_path(&self, path: &str) -> String {
        format!("{}/data/{}/{path}", self.config.mount, self.config.prefix)
    }

    fn metadata_path(&self, path: &str) -> String {
        format!("{}/metadata/{}/{path}", self.config.mount, self.config.prefix)
    }

    /// Reads the newest version of `path` (under the prefix); `None` if there is none.
    pub async fn read(&self, path: &str) -> Result<Option<Versioned>, VaultError> {
        let api = self.data_path(path);
        let (status, body) = self.call(Method::GET, &api, None).await?;
        let deleted = |version: u64| Ok(Some(Versioned { data: serde_json::Map::new(), version }));
        match status {
            // Nothing, or a deleted newest version (its number is in the metadata).
            StatusCode::NOT_FOUND => match self.version(path).await? {
                Some(version) => deleted(version),
                None => Ok(None),
            },
            s if s.is_success() => {
                let garbage = |why: &str| self.garbage(&api, why);
                let version = body
                    .pointer("/data/metadata/version")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| garbage("no data.metadata.version"))?;
                match body.pointer("/data/data") {
                    Some(Value::Object(data)) => Ok(Some(Versioned { data: data.clone(), version })),
                    Some(Value::Null) => deleted(version),
                    _ => Err(garbage("no data.data object")),
                }
            }
            s => Err(self.failure(s, &api, &body)),
        }
    }

    /// Writes `data` as the next version of `path`. With `cas`, only if the
    /// newest version is still `cas` (0: only if there is none); returns the
    /// version written.
    pub async fn write(
        &self,
        path: &str,
        data: &serde_json::Map<String, Value>,
        cas: Option<u64>,
    ) -> Result<u64, VaultError> {
        let api = self.data_path(path);
        let mut body = json!({ "data": data });
        if let Some(cas) = cas {
            body["options"] = json!({ "cas": cas });
        }
        let (status, answer) = self.call(Method::POST, &api, Some(body)).await?;
        if status.is_success() {
            return answer
                .pointer("/data/version")
                .and_then(Value::as_u64)
                .ok_or_else(|| self.garbage(&api, "no data.version in the write's answer"));
        }
        // Vault answers a check-and-set mismatch with 400 and says so.
        if status == StatusCode::BAD_REQUEST && errors_of(&answer).contains("check-and-set") {
            return Err(VaultError::CasMismatch { path: api });
        }
        Err(self.failure(status, &api, &answer))
    }

    /// Writes `data` as the next version of `path` with check-and-set on the
    /// version it replaces (a mount may require it), reading again while
    /// another machine writes first: for entries whose last write wins.
    pub async fn replace(&self, path: &str, data: &serde_json::Map<String, Value>) -> Result<u64, VaultError> {
        let mut tries = 0;
        loop {
            let current = self.version(path).await?.unwrap_or(0);
            match self.write(path, data, Some(current)).await {
                Err(VaultError::CasMismatch { .. }) if tries < 5 => tries += 1,
                other => return other,
            }
        }
    }

    /// The newest version number of `path`, from its metadata (a cheap
    /// read that carries no secret); `None` if there is none.
    pub async fn version(&self, path: &str) -> Result<Option<u64>, VaultError> {
        let api = self.metadata_path(path);
        let (status, body) = self.call(Method::GET, &api, None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => body
                .pointer("/data/current_version")
                .and_then(Value::as_u64)
                .map(Some)
                .ok_or_else(|| self.garbage(&api, "no data.current_version")),
            s => Err(self.failure(s, &api, &body)),
        }
    }

    /// Destroys the data of `versions` of `path` (they stay as numbers, so a
    /// check-and-set write after them stays ordered): old tokens unreadable.
    pub async fn destroy_versions(&self, path: &str, versions: &[u64]) -> Result<(), VaultError> {
        if versions.is_empty() {
            return Ok(());
        }
        let api = format!("{}/destroy/{}/{path}", self.config.mount, self.config.prefix);
        let (status, body) = self.call(Method::POST, &api, Some(json!({ "versions": versions }))).await?;
        match status {
            s if s.is_success() => Ok(()),
            s => Err(self.failure(s, &api, &body)),
        }
    }

    /// Removes `path` with every version it had.
    pub async fn destroy(&self, path: &str) -> Result<(), VaultError> {
        let api = self.metadata_path(path);
        let (status, body) = self.call(Method::DELETE, &api, None).await?;
        match status {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            s => Err(self.failure(s, &api, &body)),
        }
    }

    /// What Vault says of the token in use (`auth/token/lookup-self`).
    pub async fn token_standing(&self) -> Result<TokenStanding, VaultError> {
        let api = "auth/token/lookup-self";
        let (status, body) = self.call(Method::GET, api, None).await?;
        if !status.is_success() {
            return Err(self.failure(status, api, &body));
        }
        let seconds = |key: &str| body.pointer(key).and_then(Value::as_u64).map(|t| t.min(TEN_YEARS));
        let ttl = seconds("/data/ttl").ok_or_else(|| self.garbage(api, "no data.ttl"))?;
        // The explicit max ttl counts from the token's issue time, and "now"
        // is Vault's own (its expire time less the ttl left): this machine's
        // clock may be off.
        let max_left = seconds("/data/explicit_max_ttl").filter(|t| *t > 0).and_then(|max| {
            let time = |key: &str| {
                let text = body.pointer(key).and_then(Value::as_str)?;
                chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc())
            };
            let vaults_now = time("/data/expire_time")? - chrono::TimeDelta::seconds(ttl as i64);
            let ends = time("/data/issue_time")? + chrono::TimeDelta::seconds(max as i64);
            Some((ends - vaults_now).num_seconds().max(0) as u64)
        });
        Ok(TokenStanding {
            // Vault reports a token that never expires with ttl 0.
            ttl: Some(ttl).filter(|t| *t > 0),
            creation_ttl: seconds("/data/creation_ttl").filter(|t| *t > 0),
            renewable: body.pointer("/data/renewable").and_then(Value::as_bool).unwrap_or(false),
            max_left,
        })
    }

    /// Renews the token in use (`auth/token/renew-self`); returns its new ttl in seconds.
    pub async fn renew_token(&self) -> Result<u64, VaultError> {
        let api = "auth/token/renew-self";
        let (status, body) = self.call(Method::POST, api, Some(json!({}))).await?;
        if !status.is_success() {
            return Err(self.failure(status, api, &body));
        }
        Ok(body.pointer("/auth/lease_duration").and_then(Value::as_u64).unwrap_or(0))
    }

    /// One request, signed in. On a 403 whose token itself no longer works
    /// (it expired, or was revoked), the token is read again (a new one in
    /// the environment or this machine's store; a new AppRole login) and
    /// the request tried once more; a 403 of a working token is the policy's.
    async fn call(&self, method: Method, api: &str, body: Option<Value>) -> Result<(StatusCode, Value), VaultError> {
        let token = self.token().await?;
        let (status, answer) = self.send(method.clone(), api, body.as_ref(), Some(&token)).await?;
        if status != StatusCode::FORBIDDEN || api == "auth/token/lookup-self" {
            return Ok((status, answer));
        }
        let (alive, _) = self.send(Method::GET, "auth/token/lookup-self", None, Some(&token)).await?;
        if alive.is_success() {
            return Ok((status, answer));
        }
        {
            let mut held = lock(&self.token);
            if held.as_ref().is_some_and(|t| t.expose() == token.expose()) {
                *held = None;
            }
        }
        let fresh = self.token().await?;
        if fresh.expose() == token.expose() {
            return Ok((status, answer));
        }
        self.send(method, api, body.as_ref(), Some(&fresh)).await
    }

    pub(super) async fn send(
        &self,
        method: Method,
        api: &str,
        body: Option<&Value>,
        token: Option<&Secret>,
    ) -> Result<(StatusCode, Value), VaultError> {
        let mut request = self.http.request(method, self.url(api)).header("X-Vault-Request", "true");
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token.expose());
        }
        if let Some(ns) = &self.config.namespace {
            request = request.header("X-Vault-Namespace", ns);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let unreachable = |e: reqwest::Error| VaultError::Unreachable {
            address: self.config.address.to_string(),
            // Without the URL: nothing secret is in it, but the address is said already.
            why: e.without_url().to_string(),
        };
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = crate::bounded::read_bounded(&mut response, MAX_ANSWER)
            .await
            .map_err(unreachable)?
            .ok_or_else(|| self.garbage(api, "an answer over 1 MiB"))?;
        if bytes.is_empty() {
            return Ok((status, Value::Null));
        }
        match serde_json::from_slice(&bytes) {
            Ok(v) => Ok((status, v)),
            // A proxy's HTML error page: say the status, not the page.
            Err(_) if !status.is_success() => Ok((status, Value::Null)),
            Err(e) => Err(self.garbage(api, &format!("not JSON: {e}"))),
        }
    }

    pub(super) fn garbage(&self, api: &str, why: &str) -> VaultError {
        VaultError::Garbage { path: api.to_owned(), why: why.to_owned(), mount: self.config.mount.clone() }
    }

    pub(super) fn failure(&self, status: StatusCode, api: &str, body: &Value) -> VaultError {
        let why = match errors_of(body) {
            e if e.is_empty() => status.canonical_reason().unwrap_or("no reason given").to_owned(),
            e => e,
        };
        match status {
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => VaultError::Denied {
                path: api.to_owned(),
                why,
                mount: self.config.mount.clone(),
                prefix: self.config.prefix.clone(),
            },
            _ => VaultError::Unavailable { status: status.as_u16(), path: api.to_owned(), why },
        }
    }
}

fn ensure_slash(address: &str) -> String {
    match address.ends_with('/') {
        true => address.to_owned(),
        false => format!("{address}/"),
    }
}

fn http_client(config: &VaultConfig, timeout: Duration, pooled: bool) -> Result<reqwest::Client, VaultError> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("tokentray/", env!("CARGO_PKG_VERSION")))
        // Vault answers directly; a redirect would carry the token elsewhere.
        .redirect(reqwest::redirect::Policy::none());
    if !pooled {
        builder = builder.pool_max_idle_per_host(0);
    }
    if let Some(path) = &config.ca_cert {
        let ca = |why: String| VaultError::Ca { path: path.display().to_string(), why };
        let pem = crate::atomic::read_regular(path, 1 << 20)
            .map_err(|e| ca(e.to_string()))?
            .ok_or_else(|| ca("no such file".to_owned()))?;
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| ca(format!("not a PEM certificate: {e}")))?;
        if certs.is_empty() {
            return Err(ca("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned()));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| VaultError::Unreachable { address: config.address.to_string(), why: e.to_string() })
}

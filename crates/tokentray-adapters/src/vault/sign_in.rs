//! How this machine signs in to Vault: a token from the environment or its
//! own store, or an AppRole login with a secret id from a private file or
//! its own store. The token in use is cached; a client told it stopped
//! working signs in again.

use super::client::{lock, VaultClient};
use super::error::VaultError;
use super::local::LocalCredential;
use crate::config::vault::VaultAuth;
use crate::Secret;
use reqwest::Method;
use serde_json::{json, Value};

impl VaultClient {
    /// The token to send: cached, else from the environment, this
    /// machine's store, or an AppRole login.
    pub(super) async fn token(&self) -> Result<Secret, VaultError> {
        if let Some(t) = lock(&self.token).clone() {
            return Ok(t);
        }
        let token = match &self.config.auth {
            VaultAuth::Token { env } => match std::env::var(env).ok().filter(|t| !t.trim().is_empty()) {
                Some(t) => Secret::new(t.trim()),
                None => self.local(LocalCredential::Token).await?.ok_or(VaultError::NoToken { env: env.clone() })?,
            },
            VaultAuth::AppRole { mount, role_id, secret_id_file } => {
                let secret_id = match secret_id_file {
                    Some(path) => read_secret_id_file(path)?,
                    None => self.local(LocalCredential::SecretId).await?.ok_or(VaultError::NoSecretId)?,
                };
                self.approle_login(mount, role_id, &secret_id).await?
            }
        };
        *lock(&self.token) = Some(token.clone());
        Ok(token)
    }

    async fn local(&self, credential: LocalCredential) -> Result<Option<Secret>, VaultError> {
        let local = self.local.clone();
        let read = move || local.get(credential);
        let result = match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::spawn_blocking(read).await.map_err(|e| VaultError::Stopped(e.to_string()))?,
            Err(_) => read(),
        };
        result.map_err(VaultError::Local)
    }

    async fn approle_login(&self, mount: &str, role_id: &str, secret_id: &Secret) -> Result<Secret, VaultError> {
        let api = format!("auth/{mount}/login");
        let body = json!({ "role_id": role_id, "secret_id": secret_id.expose() });
        let (status, answer) = self.send(Method::POST, &api, Some(&body), None).await?;
        if status.is_success() {
            return answer
                .pointer("/auth/client_token")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(Secret::new)
                .ok_or_else(|| self.garbage(&api, "no auth.client_token"));
        }
        match self.failure(status, &api, &answer) {
            VaultError::Denied { why, .. } => Err(VaultError::LoginRefused { path: api, why }),
            // An AppRole login answers 400 for a wrong role or secret id.
            VaultError::Unavailable { status: 400, why, .. } => Err(VaultError::LoginRefused { path: api, why }),
            other => Err(other),
        }
    }
}

/// The secret id from its file: the file must be private (0600) and small.
fn read_secret_id_file(path: &std::path::Path) -> Result<Secret, VaultError> {
    let fail = |why: String| VaultError::SecretIdFile { path: path.display().to_string(), why };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(fail(format!("others may read it (mode {:o}); run `chmod 600` on it", mode & 0o777)));
        }
    }
    let text = crate::atomic::read_regular(path, 4096)
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail("no such file".to_owned()))?;
    let id = text.trim();
    if id.is_empty() {
        return Err(fail("it is empty".to_owned()));
    }
    Ok(Secret::new(id))
}

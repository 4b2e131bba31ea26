//! What went wrong with Vault, in words that say what to fix: a policy to
//! grant, a token to set, a file to `chmod`, a mount to create; and which
//! failures only need time (an outage, a write another machine won).

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("Vault at {address} cannot be reached ({why}); TokenTray keeps serving the last token and tries again")]
    Unreachable { address: String, why: String },
    #[error("Vault answered {status} for {path} ({why}); TokenTray keeps serving the last token and tries again")]
    Unavailable { status: u16, path: String, why: String },
    #[error(
        "Vault refused access to {path} (403: {why}). Check the token, and give it a policy allowing create, read, \
         update and delete on {mount}/data/{prefix}/* and read and delete on {mount}/metadata/{prefix}/*"
    )]
    Denied { path: String, why: String, mount: String, prefix: String },
    #[error(
        "no Vault token: set the environment variable {env} for TokenTray, or store one on this machine with \
         `tokentray secret set --vault-token`"
    )]
    NoToken { env: String },
    #[error(
        "no AppRole secret id: write it to a 0600 file named by secret_id_file in [vault], or store it on this \
         machine with `tokentray secret set --vault-secret-id`"
    )]
    NoSecretId,
    #[error("the AppRole secret id file {path}: {why}")]
    SecretIdFile { path: String, why: String },
    #[error("the AppRole login at {path} was refused ({why}); check role_id in [vault] and the secret id")]
    LoginRefused { path: String, why: String },
    #[error("{path} changed since it was read (another machine wrote it); read it again")]
    CasMismatch { path: String },
    #[error(
        "Vault's answer for {path} is not what a KV version 2 engine answers ({why}); is `{mount}` a KV version 2 \
         mount (`bao secrets enable -version=2 -path={mount} kv`)?"
    )]
    Garbage { path: String, why: String, mount: String },
    #[error("the CA file for [vault] {path}: {why}")]
    Ca { path: String, why: String },
    #[error("this machine's own secret store: {0}")]
    Local(String),
    /// The record under an account's id is another app's.
    #[error("{why}")]
    Foreign { why: String },
    #[error("the Vault call could not run ({0}); TokenTray tries again")]
    Stopped(String),
}

impl VaultError {
    /// Whether trying again later may work without anybody changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. }
                | Self::Unavailable { .. }
                | Self::CasMismatch { .. }
                | Self::Stopped(_)
                // This machine's keyring, locked or not up yet (a desktop
                // still starting): it is tried again, as Vault itself is.
                | Self::Local(_)
        )
    }
}

/// Vault's `{"errors": [...]}`, joined, at most 300 characters (a hostile
/// server's text goes into a log line).
pub(super) fn errors_of(body: &Value) -> String {
    let joined = body
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| errors.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "))
        .unwrap_or_default();
    joined.chars().filter(|c| !c.is_control()).take(300).collect()
}

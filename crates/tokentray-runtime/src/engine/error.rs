//! Why an engine call failed, and its `Remedy`: what fixes it, carried to
//! every surface (an exit code, a window button, an API status).

use serde::{Deserialize, Serialize};
use tokentray_adapters::config::AccountConfig;
use tokentray_adapters::provider::ProviderError;
use tokentray_adapters::store::journal::JournalError;
use tokentray_adapters::store::state::StateError;
use tokentray_adapters::store::StoreError;
use tokentray_core::{ErrorClass, Failure};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no account `{0}` in the config")]
    UnknownAccount(String),
    #[error("{0}: not logged in; run `tokentray login {0}`")]
    NoToken(String),
    #[error("{0}: this token cannot be renewed without you; run `tokentray login {0}`")]
    NotRefreshable(String),
    #[error("{account}: {why}; run `tokentray login {account}`")]
    LoginNeeded { account: String, why: String },
    #[error("{0}: no api secret stored; run `tokentray secret set {0}`")]
    MissingSecret(String),
    /// The provider cannot be asked right now; the token is kept.
    #[error("{account}: {why}")]
    Unavailable { account: String, why: String },
    #[error("{0}: this provider has no call to check a token with (set `profile_url` in [account.oauth2])")]
    CannotCheck(String),
    #[error("{0}: no login is waiting for a pasted address; click Log in first")]
    NoLoginWaiting(String),
    #[error("TokenTray is stopping; try again when it runs")]
    ShuttingDown,
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The renewal another machine sharing Vault just made for this token
    /// failed: its answer is this one's (no second call to the broker).
    #[error("{account}: the renewal on {by} failed: {message}")]
    FailedElsewhere { account: String, by: String, class: ErrorClass, message: String },
    /// Credentials the provider refused too often are not tried again.
    #[error(
        "{account}: not tried again: the broker refused these credentials {rejected} times in a row, and more \
         could lock the account; {fix}"
    )]
    StoppedBeforeLockout { account: String, rejected: u32, fix: String },
    /// The provider refused the app's credentials: the message names the fix.
    #[error("{account}: {source}; {fix}")]
    CredentialsRejected { account: String, fix: String, source: ProviderError },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Lock(#[from] crate::plumbing::file_lock::LockError),
    #[error(
        "the data directory {path} cannot be made private ({source}); set TOKENTRAY_DATA_DIR to a directory of yours"
    )]
    DataDir { path: std::path::PathBuf, source: std::io::Error },
}

/// What fixes a failure, as far as the user is concerned. It travels with
/// the error to every surface: an exit code, a window button, an API status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    /// A browser login (`tokentray login`).
    Login,
    /// Storing the right api secret (`tokentray secret set`).
    Secret,
    /// Nothing the user must do: TokenTray retries (an outage, a busy keyring).
    Retry,
    /// Something else; the message says what.
    Other,
}

impl Remedy {
    /// The CLI's exit code for it (documented in `tokentray --help`).
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Login => 4,
            Self::Secret => 5,
            Self::Retry | Self::Other => 1,
        }
    }
}

impl EngineError {
    pub fn remedy(&self) -> Remedy {
        match self {
            Self::NoToken(_) | Self::NotRefreshable(_) | Self::LoginNeeded { .. } | Self::NoLoginWaiting(_) => {
                Remedy::Login
            }
            Self::MissingSecret(_) | Self::CredentialsRejected { .. } | Self::StoppedBeforeLockout { .. } => {
                Remedy::Secret
            }
            Self::Provider(ProviderError { class, .. }) | Self::FailedElsewhere { class, .. } => match class {
                ErrorClass::TokenInvalid => Remedy::Login,
                ErrorClass::CredentialsWrong => Remedy::Secret,
                _ => Remedy::Retry,
            },
            // What the store says needs fixing (a Vault policy, a missing Vault token) is the user's to fix.
            Self::Store(e) if !e.is_transient() => Remedy::Other,
            Self::Unavailable { .. } | Self::Store(_) | Self::Lock(_) | Self::Journal(_) | Self::ShuttingDown => {
                Remedy::Retry
            }
            Self::UnknownAccount(_) | Self::CannotCheck(_) | Self::State(_) | Self::DataDir { .. } => Remedy::Other,
        }
    }

    /// A provider's error for `account`, naming the fix when it is the
    /// app's credentials (a login would not help).
    pub(crate) fn from_provider(account: &AccountConfig, e: ProviderError) -> Self {
        match e.class {
            ErrorClass::CredentialsWrong => {
                Self::CredentialsRejected { account: account.id.clone(), fix: account.credentials_fix(), source: e }
            }
            _ => Self::Provider(e),
        }
    }

    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            Self::Provider(e) | Self::CredentialsRejected { source: e, .. } => Some(e.class),
            Self::FailedElsewhere { class, .. } => Some(*class),
            _ => None,
        }
    }

    /// What the lifecycle is told about a failed validation: no token is as
    /// good as an invalid one; what is not the provider's word is an outage.
    pub(crate) fn validation_failure(&self) -> Failure {
        match self {
            Self::Provider(e) | Self::CredentialsRejected { source: e, .. } => e.failure(),
            Self::NoToken(_) => ErrorClass::TokenInvalid.into(),
            _ => ErrorClass::Transient.into(),
        }
    }

    /// What the lifecycle is told about a failed refresh; `None` when the
    /// failure is not the provider's word on the token (an unknown account).
    pub(crate) fn refresh_failure(&self) -> Option<Failure> {
        match self {
            Self::Provider(e) | Self::CredentialsRejected { source: e, .. } => Some(e.failure()),
            Self::FailedElsewhere { class, .. } => Some((*class).into()),
            Self::MissingSecret(_) | Self::StoppedBeforeLockout { .. } => Some(ErrorClass::CredentialsWrong.into()),
            Self::Store(_) | Self::State(_) | Self::Lock(_) | Self::Journal(_) | Self::Unavailable { .. } => {
                Some(ErrorClass::Transient.into())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokentray_adapters::vault::VaultError;

    /// What Vault says needs fixing keeps its words and is not "retry"; an
    /// outage is.
    #[test]
    fn a_store_error_keeps_its_meaning_up_to_the_remedy() {
        let denied = EngineError::Store(StoreError::Vault(VaultError::Denied {
            path: "secret/data/tokentray/accounts/kite/tokens".into(),
            why: "permission denied".into(),
            mount: "secret".into(),
            prefix: "tokentray".into(),
        }));
        assert_eq!(denied.remedy(), Remedy::Other);
        assert!(denied.to_string().contains("give it a policy"), "{denied}");
        let no_token = EngineError::Store(StoreError::Vault(VaultError::NoToken { env: "VAULT_TOKEN".into() }));
        assert_eq!(no_token.remedy(), Remedy::Other);
        assert!(no_token.to_string().contains("tokentray secret set --vault-token"), "{no_token}");
        let refused = VaultError::LoginRefused { path: "auth/approle/login".into(), why: "invalid role id".into() };
        assert_eq!(EngineError::Store(StoreError::Vault(refused)).remedy(), Remedy::Other);
        let down = VaultError::Unreachable { address: "https://vault:8200/".into(), why: "timed out".into() };
        assert_eq!(EngineError::Store(StoreError::Vault(down)).remedy(), Remedy::Retry);
        assert_eq!(EngineError::Store(StoreError::Unreachable("no bus".into())).remedy(), Remedy::Retry);
        // This machine's keyring, still locked at boot, is waited for like Vault.
        let locked = VaultError::Local("the collection is locked".into());
        assert_eq!(EngineError::Store(StoreError::Vault(locked)).remedy(), Remedy::Retry);
    }
}

use tokentray_core::ErrorClass;
use tokentray_engine::provider::ProviderError;
use tokentray_engine::store::state::StateError;
use tokentray_engine::store::StoreError;

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
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
}

impl EngineError {
    /// Only a login (or the user fixing a secret) can help.
    pub fn needs_user(&self) -> bool {
        match self {
            Self::NoToken(_) | Self::NotRefreshable(_) | Self::MissingSecret(_) | Self::LoginNeeded { .. } => true,
            Self::Provider(e) => e.class.is_permanent(),
            _ => false,
        }
    }

    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            Self::Provider(e) => Some(e.class),
            _ => None,
        }
    }
}

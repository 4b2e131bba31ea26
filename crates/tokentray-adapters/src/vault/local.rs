//! Where this machine keeps its own Vault credential (a token, or an
//! AppRole secret id): its own store, never Vault. The client asks through
//! this small door, so that it needs nothing of the stores' machinery.

use crate::Secret;

/// This machine's own Vault credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalCredential {
    Token,
    SecretId,
}

pub trait LocalCredentials: Send + Sync {
    /// The credential, if this machine stores one; why not, when its store cannot be read.
    fn get(&self, credential: LocalCredential) -> Result<Option<Secret>, String>;
}

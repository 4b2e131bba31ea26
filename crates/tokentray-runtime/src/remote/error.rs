//! Why a server could not be asked, each with what fixes it: the SSH
//! client's own failures told apart (a changed host key is never taken
//! for an outage), then the server's TokenTray's.

use crate::control::Refusal;
use crate::Remedy;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "cannot start the SSH client `{program}`: {why}; install OpenSSH's client (on Windows: Settings > \
         Optional features > OpenSSH Client), or name it with ssh_program in [[remote]]"
    )]
    NoSshClient { program: String, why: String },
    #[error("server `{server}` cannot be reached: {why}")]
    Unreachable { server: String, why: String },
    #[error(
        "server `{server}`: its host key is not the one your known_hosts has for it, so the connection was \
         refused. If you reinstalled or moved the server, check the new key's fingerprint on the server \
         (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), remove the old one (ssh-keygen -R HOST) and \
         connect once with ssh to accept it"
    )]
    HostKeyChanged { server: String },
    #[error(
        "server `{server}` is not in your known_hosts yet: connect once with `ssh {destination}` and accept \
         its key after checking its fingerprint"
    )]
    HostKeyUnknown { server: String, destination: String },
    #[error(
        "server `{server}` refused your SSH key: add your public key to its ~/.ssh/authorized_keys \
         (ssh-copy-id {destination}), or name the key with identity = \"~/.ssh/id_ed25519\" in [[remote]]"
    )]
    KeyRefused { server: String, destination: String },
    #[error(
        "server `{server}` has no `{program}` on its PATH for SSH commands: install TokenTray there, or write \
         its full path as tokentray = \"/home/you/.cargo/bin/tokentray\" in [[remote]]"
    )]
    NoTokentray { server: String, program: String },
    #[error(
        "server `{server}`'s tokentray cannot be followed from this one ({said}); install the same TokenTray \
         version on both (this one is {ours})"
    )]
    Mismatch { server: String, said: String, ours: String },
    #[error("server `{server}` went away: {why}; it is tried again")]
    Dropped { server: String, why: String },
    #[error("server `{server}` answered something this version cannot read ({why})")]
    Garbled { server: String, why: String },
    #[error("server `{server}`: {refusal}")]
    Refused { server: String, refusal: Refusal },
    #[error(
        "`{account}` is server `{server}`'s: its token stays there. To use it on this computer too, add \
         [[remote.account]] name = \"{account}\" with copy_token = true under that [[remote]]"
    )]
    TokenStaysOnServer { server: String, account: String },
}

impl RemoteError {
    /// What fixes it, for an exit code or a button: only an outage is retried.
    pub fn remedy(&self) -> Remedy {
        match self {
            Self::Unreachable { .. } | Self::Dropped { .. } => Remedy::Retry,
            Self::Refused { refusal, .. } => refusal.remedy,
            _ => Remedy::Other,
        }
    }
}

//! The `[[remote]]` tables: servers whose TokenTray keeps tokens where the
//! bots trade (a static IP), followed and logged in from this desktop over
//! the system's OpenSSH client. Nothing here is secret: the keys are the
//! user's own SSH keys, agent and `known_hosts`.

use crate::paths::expand_home;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::PathBuf;

/// One server, as this desktop reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    /// What this desktop calls the server: its accounts show as
    /// `ACCOUNT@NAME`. Defaults to the host of `ssh`.
    pub name: String,
    /// The SSH destination, `user@host` or a `Host` of the user's SSH config.
    pub ssh: String,
    pub port: Option<u16>,
    /// The private key to offer (`ssh -i`); else the agent's and the defaults.
    pub identity: Option<PathBuf>,
    /// An SSH config file to read instead of the user's (`ssh -F`).
    pub ssh_config: Option<PathBuf>,
    /// The server's config file, as a path on the server; else its default.
    pub config: Option<String>,
    /// The server's `tokentray`, when it is not on the login shell's PATH.
    pub tokentray: String,
    /// The SSH client to run (Windows 10 and later have `ssh.exe` on PATH).
    pub ssh_program: PathBuf,
    /// The server's accounts whose token this desktop may hand out
    /// (`copy_token = true`); every other token stays on the server.
    pub copy_token: HashSet<String>,
}

impl RemoteConfig {
    /// Whether `tokentray token` here may fetch `account`'s token from the server.
    pub fn copies_token(&self, account: &str) -> bool {
        self.copy_token.contains(account)
    }
}

/// The server's side (`[ssh_access]`): what a desktop following it over
/// SSH may take away. Tokens stay on the server unless listed here (and
/// the desktop's `copy_token` asks for them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshAccess {
    /// The accounts whose token `tokentray remote-serve` hands out.
    #[serde(default)]
    pub tokens: HashSet<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRemote {
    name: Option<String>,
    ssh: String,
    port: Option<u16>,
    identity: Option<PathBuf>,
    ssh_config: Option<PathBuf>,
    config: Option<String>,
    tokentray: Option<String>,
    ssh_program: Option<PathBuf>,
    #[serde(default, rename = "account")]
    accounts: Vec<RawRemoteAccount>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemoteAccount {
    name: String,
    #[serde(default)]
    copy_token: bool,
}

/// Resolves every `[[remote]]`; the error is the table's index and what to fix.
pub(crate) fn resolve(raw: Vec<RawRemote>) -> Result<Vec<RemoteConfig>, (usize, String)> {
    let mut names = HashSet::new();
    let mut remotes = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let remote = resolve_one(r).map_err(|m| (i, m))?;
        if !names.insert(remote.name.clone()) {
            return Err((i, format!("[[remote]] `{}` is named twice; give each server its own name", remote.name)));
        }
        remotes.push(remote);
    }
    Ok(remotes)
}

fn resolve_one(r: RawRemote) -> Result<RemoteConfig, String> {
    let ssh = r.ssh.trim().to_owned();
    // A destination that starts with `-` would be read by ssh as an option
    // (`-oProxyCommand=...`): a destination is a name, never an option.
    if ssh.is_empty() || ssh.starts_with('-') || ssh.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "[[remote]] ssh = {:?}: write the server as user@host (or a Host of your SSH config), without spaces \
             and not starting with `-`",
            r.ssh
        ));
    }
    let host = ssh.rsplit('@').next().unwrap_or(&ssh).to_owned();
    let name = r.name.unwrap_or(host);
    if let Some(problem) = name_problem(&name) {
        return Err(format!("[[remote]] name = {name:?}: {problem}"));
    }
    let tokentray = r.tokentray.unwrap_or_else(|| "tokentray".to_owned());
    if tokentray.trim().is_empty() || tokentray.chars().any(char::is_control) {
        return Err(format!("[[remote]] `{name}`: tokentray = {tokentray:?} is not a program's path"));
    }
    if r.config.as_deref().is_some_and(|c| c.trim().is_empty() || c.chars().any(char::is_control)) {
        return Err(format!("[[remote]] `{name}`: config is not a path; write the server's config file's path"));
    }
    let mut copy_token = HashSet::new();
    for a in r.accounts {
        if a.name.contains('@') || a.name.is_empty() {
            return Err(format!(
                "[[remote.account]] name = {:?}: write the account's name as the server's config has it",
                a.name
            ));
        }
        if a.copy_token {
            copy_token.insert(a.name);
        }
    }
    Ok(RemoteConfig {
        name,
        ssh,
        port: r.port,
        identity: r.identity.map(|p| expand_home(&p)),
        ssh_config: r.ssh_config.map(|p| expand_home(&p)),
        config: r.config,
        tokentray,
        ssh_program: r.ssh_program.map_or_else(|| PathBuf::from("ssh"), |p| expand_home(&p)),
        copy_token,
    })
}

/// A server's name is the part after `@` in its accounts' names.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 64 {
        return Some("give the server a name of 1 to 64 characters".to_owned());
    }
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .map(|c| format!("contains `{c}`; use letters, digits, `-`, `_` and `.` (name = \"vps\")"))
}

/// `ACCOUNT@SERVER` split, for a name this desktop shows for a server's account.
pub fn split_remote_id(id: &str) -> Option<(&str, &str)> {
    id.rsplit_once('@').filter(|(account, server)| !account.is_empty() && !server.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Vec<RawRemote> {
        #[derive(Deserialize)]
        struct File {
            remote: Vec<RawRemote>,
        }
        toml::from_str::<File>(text).unwrap().remote
    }

    #[test]
    fn a_server_is_named_by_its_host_and_opts_in_per_account() {
        let remotes = resolve(raw("[[remote]]\nssh = \"trader@vps.example.com\"\nport = 2222\n\
             [[remote.account]]\nname = \"kite\"\ncopy_token = true\n\
             [[remote.account]]\nname = \"upstox\"\n"))
        .unwrap();
        let r = &remotes[0];
        assert_eq!(
            (r.name.as_str(), r.ssh.as_str(), r.port),
            ("vps.example.com", "trader@vps.example.com", Some(2222))
        );
        assert!(r.copies_token("kite") && !r.copies_token("upstox") && !r.copies_token("other"));
        assert_eq!(r.tokentray, "tokentray");
    }

    #[test]
    fn an_option_for_a_destination_or_a_name_twice_is_refused() {
        for bad in ["-oProxyCommand=touch /tmp/x", "trader@host extra", ""] {
            let text = format!("[[remote]]\nssh = {bad:?}\n");
            let (_, why) = resolve(raw(&text)).unwrap_err();
            assert!(why.contains("user@host"), "{why}");
        }
        let text = "[[remote]]\nssh = \"a@vps\"\n[[remote]]\nssh = \"b@vps\"\n";
        assert!(resolve(raw(text)).unwrap_err().1.contains("named twice"));
        let text = "[[remote]]\nssh = \"a@vps\"\nname = \"my vps\"\n";
        assert!(resolve(raw(text)).unwrap_err().1.contains("contains ` `"));
    }

    #[test]
    fn a_remote_id_splits_at_its_last_at() {
        assert_eq!(split_remote_id("kite@vps"), Some(("kite", "vps")));
        assert_eq!(split_remote_id("kite"), None);
        assert_eq!(split_remote_id("@vps"), None);
    }
}

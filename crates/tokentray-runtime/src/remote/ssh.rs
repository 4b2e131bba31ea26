//! The system's OpenSSH client, run with the user's keys, agent and
//! `known_hosts`: the command line for a server, and what its failure says.
//! No port is opened on either machine; `BatchMode` makes every question
//! ssh would ask (a new host key, a password) a failure instead.

use super::error::RemoteError;
use tokentray_adapters::config::remote::RemoteConfig;
use tokio::process::Command;

/// How long ssh waits for the server's TCP connection.
const CONNECT_TIMEOUT_SECS: u32 = 15;
/// A server silent for this many 10-second probes is gone: the session ends
/// within half a minute of a dead network, not at TCP's hours.
const ALIVE_PROBES: u32 = 3;

/// `ssh ... DESTINATION 'tokentray' [--config 'PATH'] remote-serve`.
pub(crate) fn command(remote: &RemoteConfig) -> Command {
    let mut command = Command::new(&remote.ssh_program);
    command.args(["-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]);
    // Whatever the user's config says for other sessions, this one forwards
    // nothing (no agent, no X, no ports: a server never reaches back into
    // this desktop), runs no local command, and shares no master connection
    // (which would bypass these options). ssh takes the first value it sees:
    // these come before any config file's.
    command.args(["-a", "-x", "-e", "none", "-o", "ClearAllForwardings=yes", "-o", "ForwardAgent=no"]);
    command.args(["-o", "ForwardX11=no", "-o", "PermitLocalCommand=no", "-o", "RequestTTY=no"]);
    command.args(["-o", "ControlMaster=no", "-o", "ControlPath=none"]);
    command.args(["-o", &format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}")]);
    command.args(["-o", "ServerAliveInterval=10", "-o", &format!("ServerAliveCountMax={ALIVE_PROBES}")]);
    if let Some(config) = &remote.ssh_config {
        command.arg("-F").arg(config);
    }
    if let Some(port) = remote.port {
        command.args(["-p", &port.to_string()]);
    }
    if let Some(identity) = &remote.identity {
        command.arg("-i").arg(identity).args(["-o", "IdentitiesOnly=yes"]);
    }
    command.arg("--").arg(&remote.ssh).arg(remote_command(remote));
    command
}

/// The command the server's shell runs, each word quoted for a POSIX shell
/// (a leading `~/` stays the server's home).
fn remote_command(remote: &RemoteConfig) -> String {
    let program = match remote.tokentray.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", quoted(rest)),
        None => quoted(&remote.tokentray),
    };
    let mut words = vec![program];
    if let Some(config) = &remote.config {
        words.extend(["--config".to_owned(), quoted(config)]);
    }
    words.push("remote-serve".to_owned());
    words.join(" ")
}

/// One word for a POSIX shell, whatever it holds.
fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Why a session ended before the server's TokenTray said hello: from what
/// ssh wrote on its standard error and how it exited.
pub(crate) fn failure(remote: &RemoteConfig, stderr: &str, exit: Option<i32>) -> RemoteError {
    let server = remote.name.clone();
    let destination = remote.ssh.clone();
    let has = |needle: &str| stderr.to_ascii_lowercase().contains(&needle.to_ascii_lowercase());
    // ssh's own verdicts end it with 255; the server's shell could write the
    // same words, but not make ssh exit so before the session.
    let ssh_said = exit == Some(255);
    if ssh_said && (has("REMOTE HOST IDENTIFICATION HAS CHANGED") || has("host key for") && has("has changed")) {
        return RemoteError::HostKeyChanged { server };
    }
    if ssh_said && (has("Host key verification failed") || has("host key is known")) {
        return RemoteError::HostKeyUnknown { server, destination };
    }
    if ssh_said && has("Permission denied") {
        return RemoteError::KeyRefused { server, destination };
    }
    // The shell's "not found" (127), or "No such file" for a path written out.
    if exit == Some(127) || has("command not found") || has(": not found") || has("No such file or directory") {
        return RemoteError::NoTokentray { server, program: remote.tokentray.clone() };
    }
    if exit == Some(255) || exit.is_none() {
        let why =
            last_line(stderr).map_or_else(|| "the SSH client ended without saying why".to_owned(), super::wire::plain);
        return RemoteError::Unreachable { server, why };
    }
    // It ran, and it was not a TokenTray that speaks this protocol: an older
    // one says it knows no `remote-serve`.
    let said = stderr.lines().map(str::trim).find(|l| l.starts_with("error"));
    let said =
        said.or_else(|| last_line(stderr)).map_or_else(|| format!("it exited with {exit:?}"), super::wire::plain);
    RemoteError::Mismatch { server, said, ours: env!("CARGO_PKG_VERSION").to_owned() }
}

fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(tokentray: &str, config: Option<&str>) -> RemoteConfig {
        let text = format!(
            "[[remote]]\nssh = \"trader@vps\"\ntokentray = {tokentray:?}\n{}",
            config.map(|c| format!("config = {c:?}\n")).unwrap_or_default()
        );
        tokentray_adapters::config::Config::parse(&text, std::path::Path::new("c.toml")).unwrap().remotes.remove(0)
    }

    #[test]
    fn the_remote_words_are_quoted_whatever_they_hold() {
        let home = remote("~/.cargo/bin/tokentray", None);
        assert_eq!(remote_command(&home), r#""$HOME"/'.cargo/bin/tokentray' remote-serve"#);
        let r = remote("/opt/my tools/tokentray", Some("/home/t/it's.toml"));
        assert_eq!(remote_command(&r), r"'/opt/my tools/tokentray' --config '/home/t/it'\''s.toml' remote-serve");
        let args: Vec<String> = command(&r).as_std().get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let dash = args.iter().position(|a| a == "--").unwrap();
        assert_eq!(args[dash + 1], "trader@vps", "the destination comes after `--`, never read as an option");
        for option in ["BatchMode=yes", "StrictHostKeyChecking=yes", "ClearAllForwardings=yes", "ControlPath=none"] {
            assert!(args[..dash].contains(&option.to_owned()), "{option}");
        }
        assert!(args[..dash].contains(&"-a".to_owned()), "no agent forwarding");
    }

    #[test]
    fn each_ssh_failure_is_told_apart() {
        let r = remote("tokentray", None);
        let changed =
            "@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n";
        assert!(matches!(failure(&r, changed, Some(255)), RemoteError::HostKeyChanged { .. }));
        assert!(matches!(
            failure(&r, "Host key verification failed.\n", Some(255)),
            RemoteError::HostKeyUnknown { .. }
        ));
        let denied = "trader@127.0.0.1: Permission denied (publickey).\n";
        assert!(matches!(failure(&r, denied, Some(255)), RemoteError::KeyRefused { .. }));
        let missing = "bash: line 1: tokentray: command not found\n";
        assert!(matches!(failure(&r, missing, Some(127)), RemoteError::NoTokentray { .. }));
        let refused = "ssh: connect to host vps port 22: Connection refused\n";
        match failure(&r, refused, Some(255)) {
            RemoteError::Unreachable { why, .. } => assert!(why.contains("Connection refused")),
            other => panic!("{other:?}"),
        }
        let old = "error: unrecognized subcommand 'remote-serve'\n\nUsage: tokentray [OPTIONS] [COMMAND]\n";
        assert!(matches!(failure(&r, old, Some(2)), RemoteError::Mismatch { .. }));
        // The server's shell writing ssh's words is not ssh saying them.
        assert!(!matches!(failure(&r, changed, Some(1)), RemoteError::HostKeyChanged { .. }));
    }
}

//! A real OpenSSH server (Debian's `openssh-server`) on a loopback port of
//! its own, made by the test: its own host key, the test user's key in its
//! own `authorized_keys`, and an `ssh -F` config for the client that names
//! the key and a `known_hosts` holding the host key. It logs in as the user
//! running the test, starts in the foreground (`sshd -D -e`), and is ready
//! once it says it listens. Killed with every session when dropped.

use crate::{free_port, wait_until};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The name the client's config gives the server (`ssh = "..."`).
pub const HOST_ALIAS: &str = "tokentray-test-server";

pub struct Sshd {
    pub port: u16,
    /// `ssh -F` this: it reaches the server as the test's user, with its key.
    pub client_config: PathBuf,
    dir: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
}

fn sshd_binary() -> PathBuf {
    let path = PathBuf::from("/usr/sbin/sshd");
    assert!(path.is_file(), "no /usr/sbin/sshd: install openssh-server (scripts/install-deps.sh does)");
    path
}

fn keygen(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "tokentray-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs (openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Sshd {
    /// Starts a server in `dir` whose sessions get `env` (sshd's `SetEnv`:
    /// a data directory of the server's own, say).
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        keygen(&dir.join("host_key"));
        keygen(&dir.join("user_key"));
        std::fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys")).unwrap();
        let port = free_port();
        let mut sshd = Self {
            port,
            client_config: dir.join("ssh_config"),
            dir: dir.to_owned(),
            env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            child: None,
            log: Arc::default(),
        };
        sshd.trust_host_key();
        let client = format!(
            "Host {HOST_ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {key}\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {known}\n  GlobalKnownHostsFile /dev/null\n  \
             IdentityAgent none\n",
            user = user(),
            key = dir.join("user_key").display(),
            known = dir.join("known_hosts").display(),
        );
        std::fs::write(&sshd.client_config, client).unwrap();
        sshd.launch();
        sshd
    }

    /// The client learns the server's new host key (as a user who checked it would).
    pub fn trust_new_host_key(&self) {
        self.trust_host_key();
    }

    /// Writes the current host key into the client's `known_hosts`.
    fn trust_host_key(&self) {
        let key = std::fs::read_to_string(self.dir.join("host_key.pub")).unwrap();
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        std::fs::write(self.dir.join("known_hosts"), format!("[127.0.0.1]:{} {}\n", self.port, key.join(" "))).unwrap();
    }

    fn launch(&mut self) {
        let mut config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\nAuthorizedKeysFile {auth}\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nLogLevel VERBOSE\n",
            port = self.port,
            host = self.dir.join("host_key").display(),
            pid = self.dir.join("sshd.pid").display(),
            auth = self.dir.join("authorized_keys").display(),
        );
        if !self.env.is_empty() {
            let pairs: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            config += &format!("SetEnv {}\n", pairs.join(" "));
        }
        std::fs::write(self.dir.join("sshd_config"), config).unwrap();
        // Run as root, sshd wants its privilege-separation directory.
        if user() == "root" {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let mut command = Command::new(sshd_binary());
        command.arg("-D").arg("-e").arg("-f").arg(self.dir.join("sshd_config"));
        let mut child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = self.log.clone();
        log.lock().unwrap().clear();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        self.child = Some(child);
        let log = self.log.clone();
        let port = self.port;
        wait_until("sshd listening", Duration::from_secs(20), || {
            log.lock().unwrap().contains(&format!("Server listening on 127.0.0.1 port {port}"))
        });
    }

    /// What sshd has logged since it last started.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Ends the server and every session it serves (each session is a
    /// session leader of its own, so not in the server's group: they are
    /// found by their parents), as a crash of the server would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let mut doomed = descendants(child.id());
            doomed.push(child.id());
            let _ = Command::new("kill").arg("-KILL").args(doomed.iter().map(u32::to_string)).status();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same keys.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// The server gets a new host key, which the client's `known_hosts` does not have.
    pub fn change_host_key(&mut self) {
        self.kill();
        keygen(&self.dir.join("host_key"));
        self.launch();
    }

    /// The server no longer takes the test user's key.
    pub fn refuse_user_key(&self) {
        std::fs::write(self.dir.join("authorized_keys"), "").unwrap();
    }

    /// The server takes the test user's key again.
    pub fn accept_user_key(&self) {
        std::fs::copy(self.dir.join("user_key.pub"), self.dir.join("authorized_keys")).unwrap();
    }
}

/// Every process below `pid`, from `/proc`.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let id: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((id, ppid))
        })
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, p)| *p == parent).map(|(id, _)| *id));
        i += 1;
    }
    found.remove(0);
    found
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

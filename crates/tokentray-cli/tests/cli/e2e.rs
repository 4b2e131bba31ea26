//! The real `tokentray` binary against the sandbox over loopback, as a user
//! runs it: login through `$BROWSER` or a pasted URL, token, status, expiry,
//! two processes refreshing at once, and the exit codes of `check` and `token`.
//! (The daemon: `daemon.rs`; scripts taking the token: `handoff.rs`.)

use crate::common::*;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;
use tokentray_sandbox::{Endpoint, Fault};
use tokentray_testkit::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_then_token_then_expiry_exits_4() {
    let s = setup("login").await;
    let s = std::sync::Arc::new(s);
    let t = s.clone();
    let login = blocking(move || t.run(&["login", "kite"], "")).await.success();
    assert!(login.stderr().contains("kite: logged in as AB1234"), "{}", login.stderr());

    let t = s.clone();
    let token = blocking(move || t.run(&["token", "kite"], "")).await.success();
    let issued = s.sandbox.live_access_tokens();
    assert_eq!(token.stdout().trim(), issued.last().unwrap(), "prints the token the sandbox issued, alone");
    assert_eq!(token.stdout().lines().count(), 1);
    assert!(token.stderr().is_empty(), "{}", token.stderr());

    let t = s.clone();
    let status = blocking(move || t.run(&["status", "--json"], "")).await.success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    let kite = json["accounts"].as_array().unwrap().iter().find(|a| a["id"] == "kite").unwrap().clone();
    assert_eq!(kite["state"], "valid");
    assert_eq!(kite["user_id"], "AB1234");
    assert_eq!(json["storage_plaintext"], true);

    // The token lives 3 seconds: asked until it is gone.
    let t = s.clone();
    let expired = blocking(move || {
        let mut last = None;
        wait_until("the token expired", Duration::from_secs(30), || {
            let out = t.run(&["token", "kite"], "");
            let done = out.status.code() != Some(0);
            last = Some(out);
            done
        });
        last.unwrap()
    })
    .await;
    assert_eq!(expired.status.code(), Some(4), "{}", expired.stderr());
    assert!(expired.stdout().is_empty());
    assert!(expired.stderr().contains("run `tokentray login kite`"), "{}", expired.stderr());
    let log = std::fs::read_to_string(s.dir.join("data/state.json")).unwrap();
    assert!(!log.contains(issued.last().unwrap()), "no token in the state file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_refreshing_at_once_make_one_provider_call() {
    let s = std::sync::Arc::new(setup("two-refresh").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    s.sandbox.inject(Endpoint::OAuth2Token, Fault::delay(Duration::from_millis(500)), Some(1));
    let (a, b) = (s.clone(), s.clone());
    let (ra, rb) = tokio::join!(
        blocking(move || a.run(&["refresh", "oauth"], "")),
        blocking(move || b.run(&["refresh", "oauth"], ""))
    );
    ra.success();
    rb.success();
    let refreshes =
        s.sandbox.requests_to("/v1/oauth/token").iter().filter(|r| r.form()["grant_type"] == "refresh_token").count();
    assert_eq!(refreshes, 1, "the second process picked up the first one's token");
    let t = s.clone();
    let token = blocking(move || t.run(&["token", "oauth"], "")).await.success().stdout();
    assert_eq!(token.trim(), s.sandbox.live_access_tokens().last().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_browser_login_accepts_the_pasted_url() {
    let s = std::sync::Arc::new(setup("paste").await);
    // The pasted URL: what the browser would land on, had it logged in.
    let t = s.clone();
    // Killed even when the test fails half-way.
    let mut child = blocking(move || {
        Running(
            t.command(&["login", "kite", "--no-browser"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    })
    .await;
    let mut stderr = child.stderr.take().unwrap();
    let url = blocking(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 512];
        loop {
            let n = std::io::Read::read(&mut stderr, &mut buf).unwrap();
            assert!(n > 0, "no URL printed: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            if let Some(line) = seen.lines().find(|l| l.trim_start().starts_with("http")) {
                return (line.trim().to_owned(), stderr);
            }
        }
    })
    .await;
    let (authorize, _stderr) = url;
    let http = reqwest_free_get(&authorize).await;
    child.stdin.as_mut().unwrap().write_all(format!("{http}\n").as_bytes()).unwrap();
    let status = blocking(move || child.wait().unwrap()).await;
    assert!(status.success());
    assert_eq!(s.sandbox.requests_to("/session/token").len(), 1);
}

/// The Location the authorize URL redirects to, read with a plain HTTP/1.1 request.
async fn reqwest_free_get(url: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    let path = format!("{}?{}", url.path(), url.query().unwrap_or(""));
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    blocking(move || {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response.lines().find_map(|l| l.strip_prefix("location: ")).expect("a redirect").trim().to_owned()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_token_tell_a_revoked_token_by_their_exit_codes() {
    let s = std::sync::Arc::new(setup("check").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "kite"], "")).await.success();
    let t = s.clone();
    let valid = blocking(move || t.run(&["check", "kite"], "")).await.success();
    assert!(valid.stderr().contains("kite: still valid until"), "{}", valid.stderr());
    let t = s.clone();
    let refresh = blocking(move || t.run(&["refresh", "kite"], "")).await.success();
    assert!(refresh.stderr().contains("still valid until"), "refresh checks a Kite token: {}", refresh.stderr());

    // A login elsewhere ends the session at the broker.
    s.sandbox.expire_access_tokens();
    let t = s.clone();
    let check = blocking(move || t.run(&["check", "kite"], "")).await;
    assert_eq!(check.status.code(), Some(4), "{}", check.stderr());
    assert!(check.stderr().contains("the broker ended this token"), "{}", check.stderr());
    assert_eq!(check.stderr().lines().count(), 1, "the error is printed once, and nothing else: {}", check.stderr());
    assert!(!check.stderr().contains('\u{1b}'), "no colour codes off a terminal: {}", check.stderr());
    let t = s.clone();
    let token = blocking(move || t.run(&["token", "kite"], "")).await;
    assert_eq!(token.status.code(), Some(4), "a rejected token is never printed");
    assert!(token.stdout().is_empty());

    // Without the api secret, the fix is `secret set`, not a login: exit 5.
    let t = s.clone();
    blocking(move || t.run(&["secret", "delete", "kite"], "")).await.success();
    let t = s.clone();
    let missing = blocking(move || t.run(&["login", "kite"], "")).await;
    assert_eq!(missing.status.code(), Some(5), "a missing api secret has its own code: {}", missing.stderr());
    assert!(missing.stderr().contains("tokentray secret set kite"), "{}", missing.stderr());
}

/// Something answers on the control socket but hangs up without a reply (a
/// TokenTray crashing mid-answer, another version): the command fails and
/// says so. It never does the work in a process of its own beside it: two
/// engines would renew one token twice.
// Built for Unix only: it stands in for the engine on the socket file itself.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_tokentray_that_drops_the_connection_is_not_doubled() {
    let s = std::sync::Arc::new(setup("dropped").await);
    let t = s.clone();
    blocking(move || t.run(&["login", "oauth"], "")).await.success();
    let calls = s.sandbox.requests_to("/v1/oauth/token").len();
    let socket = s.dir.join("data/tokentray.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let hangs_up = std::thread::spawn(move || {
        // Reads each request line, then closes without a word.
        for stream in listener.incoming().take(2) {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stream.unwrap()), &mut line);
        }
    });
    for args in [["refresh", "oauth"], ["token", "oauth"]] {
        let t = s.clone();
        let out = blocking(move || t.run(&args, "")).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", out.stderr());
        assert!(out.stderr().contains("closed the connection before it answered"), "{args:?}: {}", out.stderr());
        assert!(out.stdout().is_empty(), "no token from a process of its own");
    }
    hangs_up.join().unwrap();
    assert_eq!(s.sandbox.requests_to("/v1/oauth/token").len(), calls, "no renewal beside the running one");
}

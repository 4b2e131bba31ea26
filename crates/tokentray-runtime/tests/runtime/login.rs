//! The login flow end to end in one process: a real callback server on
//! loopback, the sandbox as provider, real files for the token.

use crate::common::*;
use std::time::Duration;
use tokentray_core::State;
use tokentray_runtime::login::{LoginError, LoginOptions};
use tokentray_sandbox::{Endpoint, Fault};
use tokio::sync::mpsc;

/// Login options whose "browser" hands the URL to the test.
fn options(urls: mpsc::UnboundedSender<url::Url>) -> LoginOptions {
    LoginOptions {
        open_browser: false,
        timeout: Duration::from_secs(20),
        pasted: None,
        show_url: Box::new(move |u| {
            let _ = urls.send(u.authorize.clone());
        }),
        ..LoginOptions::default()
    }
}

type Running = tokio::task::JoinHandle<Result<tokentray_runtime::login::LoginOutcome, LoginError>>;

/// Starts a login for `id` in the background; returns it and the authorize URL it shows.
async fn start(
    engine: &tokentray_runtime::Engine,
    id: &'static str,
    extra: impl FnOnce(LoginOptions) -> LoginOptions,
) -> (Running, url::Url) {
    let (tx, mut urls) = mpsc::unbounded_channel();
    let engine = engine.clone();
    let options = extra(options(tx));
    let running = tokio::spawn(async move { engine.login(id, options).await });
    (running, urls.recv().await.expect("the login shows its URL"))
}

#[tokio::test]
async fn a_login_stores_the_token_and_answers_the_browser() {
    let w = world("login-ok", None).await;
    let engine = w.engine();
    let (login, url) = start(&engine, "kite", |o| o).await;
    let page = browse(url).await;
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    assert!(text.contains("Logged in") && text.contains("AB1234"), "{text}");
    let outcome = login.await.unwrap().unwrap();
    assert_eq!(outcome.status.state, State::Valid);
    let stored = store(&w.dir);
    let tokens = tokentray_adapters::store::SecretStore::tokens(&stored, "kite").unwrap().unwrap();
    assert_eq!(w.sandbox.live_access_tokens(), vec![tokens.access_token.expose().to_owned()]);
    // The callback server lives only while a login runs.
    assert!(std::net::TcpStream::connect(("127.0.0.1", w.kite_port)).is_err());
}

#[tokio::test]
async fn a_forged_state_is_refused_and_the_real_login_still_completes() {
    let w = world("login-state", None).await;
    let engine = w.engine();
    let (login, url) = start(&engine, "oauth", |o| o).await;
    let real = callback_url(&url).await;
    let forged = real.replace("state=", "state=forged");
    let page = reqwest::get(&forged).await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("does not match"));
    let page = reqwest::get(&real).await.unwrap();
    assert_eq!(page.status(), 200);
    login.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let w = world("login-replay", None).await;
    // Hold the exchange so that the replay arrives while it runs.
    w.sandbox.inject(Endpoint::OAuth2Token, Fault::delay(Duration::from_millis(1500)), Some(1));
    let engine = w.engine();
    let (login, url) = start(&engine, "oauth", |o| o).await;
    let callback = callback_url(&url).await;
    let first = tokio::spawn(reqwest::get(callback.clone()));
    eventually("the exchange in flight", || w.sandbox.requests_to("/v1/oauth/token").len() == 1).await;
    let replay = reqwest::get(&callback).await.unwrap();
    assert_eq!(replay.status(), 409);
    assert!(replay.text().await.unwrap().contains("works only once"));
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
    login.await.unwrap().unwrap();
    assert_eq!(w.sandbox.requests_to("/v1/oauth/token").len(), 1, "the code was exchanged once");
    assert!(reqwest::get(&callback).await.is_err(), "after the login, nothing listens");
}

#[tokio::test]
async fn a_denied_login_says_so_and_changes_nothing() {
    let w = world("login-denied", None).await;
    let engine = w.engine();
    let (login, url) = start(&engine, "kite", |o| o).await;
    let state =
        url.query_pairs().find(|(k, _)| k == "redirect_params").unwrap().1.trim_start_matches("state=").to_owned();
    let denied = format!("http://127.0.0.1:{}/kite/cb?action=login&type=login&status=error&state={state}", w.kite_port);
    let page = reqwest::get(&denied).await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(matches!(login.await.unwrap(), Err(LoginError::Denied { .. })));
    assert_eq!(engine.status("kite").unwrap().state, State::NoToken);
}

#[tokio::test]
async fn a_login_nobody_completes_times_out() {
    let w = world("login-timeout", None).await;
    let engine = w.engine();
    let (tx, _urls) = mpsc::unbounded_channel();
    let e =
        engine.login("kite", LoginOptions { timeout: Duration::from_millis(300), ..options(tx) }).await.unwrap_err();
    assert!(matches!(e, LoginError::TimedOut { .. }), "{e}");
    assert!(e.to_string().contains("tokentray login kite"), "{e}");
}

#[tokio::test]
async fn a_second_login_replaces_the_first() {
    let w = world("login-replace", None).await;
    let engine = w.engine();
    let (first, _) = start(&engine, "kite", |o| o).await;
    let (second, url) = start(&engine, "kite", |o| o).await;
    assert!(matches!(first.await.unwrap(), Err(LoginError::Replaced(_))));
    browse(url).await;
    second.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_login_in_another_process_takes_the_port_over() {
    let w = world("login-takeover", None).await;
    // Two engines on one data directory stand for two TokenTray processes.
    let (a, b) = (w.engine(), w.engine());
    let (first, _) = start(&a, "kite", |o| o).await;
    let (second, url) = start(&b, "kite", |o| o).await;
    assert!(matches!(first.await.unwrap(), Err(LoginError::Replaced(_))));
    browse(url).await;
    second.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_pasted_redirect_url_completes_the_login() {
    let w = world("login-paste", None).await;
    let engine = w.engine();
    let (paste, pasted) = mpsc::channel(2);
    let (login, url) = start(&engine, "oauth", |o| LoginOptions { pasted: Some(pasted), ..o }).await;
    let callback = callback_url(&url).await;
    let pasted = |line: &str| tokentray_runtime::login::Pasted { line: line.to_owned(), reply: None };
    paste.send(pasted("not a url")).await.unwrap();
    paste.send(pasted(&callback)).await.unwrap();
    let outcome = login.await.unwrap().unwrap();
    assert_eq!(outcome.status.state, State::Valid);
    assert_eq!(outcome.status.user_id.as_deref(), Some("OA1"), "the profile call names the user");
}

#[tokio::test]
async fn a_missing_api_secret_is_said_before_the_browser_opens() {
    let w = world("login-nosecret", None).await;
    tokentray_adapters::store::SecretStore::delete(
        &store(&w.dir),
        "kite",
        tokentray_adapters::store::SecretItem::ApiSecret,
    )
    .unwrap();
    let engine = w.engine();
    let (tx, mut urls) = mpsc::unbounded_channel();
    let e = engine.login("kite", options(tx)).await.unwrap_err();
    assert!(e.to_string().contains("tokentray secret set kite"), "{e}");
    assert!(urls.try_recv().is_err(), "no URL was shown");
}

/// The browser's request is answered before the callback server goes away,
/// even when the process ends the moment the login returns (as the CLI's
/// does): the login runs on its own runtime, dropped right after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_gets_its_page_before_the_callback_server_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let w = world("login-page", None).await;
    let engine = w.engine();
    let (urls, url) = std::sync::mpsc::channel();
    let login = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let options = LoginOptions {
            open_browser: false,
            show_url: Box::new(move |u| {
                let _ = urls.send(u.authorize.clone());
            }),
            ..LoginOptions::default()
        };
        let outcome = runtime.block_on(engine.login("kite", options));
        drop(runtime);
        outcome.map(|_| ()).map_err(|e| e.to_string())
    });
    let url = tokio::task::spawn_blocking(move || url.recv().unwrap()).await.unwrap();
    let callback = url::Url::parse(&callback_url(&url).await).unwrap();
    let mut browser = tokio::net::TcpStream::connect(("127.0.0.1", w.kite_port)).await.unwrap();
    let request = format!(
        "GET {}?{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        callback.path(),
        callback.query().unwrap(),
        w.kite_port
    );
    browser.write_all(request.as_bytes()).await.unwrap();
    tokio::task::spawn_blocking(move || login.join().unwrap()).await.unwrap().unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), browser.read_to_end(&mut reply)).await.unwrap().unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("Logged in") && reply.contains("You can close this tab"), "{reply}");
}

#[tokio::test]
async fn a_localhost_redirect_is_received_on_both_loopbacks() {
    let w = world_with_origin("login-localhost", None, "http://localhost").await;
    let engine = w.engine();
    let (login, url) = start(&engine, "oauth", |o| o).await;
    // A browser that resolves localhost to ::1 delivers the code there.
    let callback = callback_url(&url).await.replace("//localhost:", "//[::1]:");
    let page = reqwest::get(&callback).await.unwrap();
    assert_eq!(page.status(), 200, "{}", page.text().await.unwrap());
    login.await.unwrap().unwrap();
    assert_eq!(engine.status("oauth").unwrap().state, State::Valid);
}

#[tokio::test]
async fn a_localhost_redirect_is_refused_when_another_program_holds_the_other_loopback() {
    let w = world_with_origin("login-localhost-taken", None, "http://localhost").await;
    // Another user's program, waiting for a code on [::1].
    let squatter = std::net::TcpListener::bind(("::1", w.oauth_port)).unwrap();
    let engine = w.engine();
    let (tx, _urls) = mpsc::unbounded_channel();
    let e = engine.login("oauth", options(tx)).await.unwrap_err();
    assert!(matches!(e, LoginError::LocalhostTaken { .. }), "{e}");
    assert!(e.to_string().contains("http://127.0.0.1:PORT"), "says what to use instead: {e}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", w.oauth_port)).is_err(), "nothing left listening");
    drop(squatter);
}

#[tokio::test]
async fn a_login_is_cancelled_only_with_the_key_left_in_the_data_directory() {
    let w = world("login-handover", None).await;
    let engine = w.engine();
    let (login, url) = start(&engine, "oauth", |o| o).await;
    // What another user, or a page that rebinds its name to 127.0.0.1, could send: the account's id.
    let cancel = format!("http://127.0.0.1:{}/.tokentray/cancel", w.oauth_port);
    let guess = reqwest::Client::new().post(&cancel).header("x-tokentray-cancel", "oauth").send().await.unwrap();
    assert_eq!(guess.status(), 403);
    let key_file = w.dir.join("data/locks/login-oauth.handover");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(key_file.is_file());
    // The login goes on, and completes.
    assert_eq!(browse(url).await.status(), 200);
    login.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_https_redirect_is_served_over_tls_with_a_certificate_of_our_own() {
    let w = world_with_origin("login-https", None, "https://127.0.0.1").await;
    let engine = w.engine();
    let (login, url) = start(&engine, "oauth", |o| o).await;
    // The browser, once it accepted the certificate: it is for 127.0.0.1, made once, kept in the data directory.
    let pem = std::fs::read(w.dir.join("data/tls/callback-cert.pem")).unwrap();
    let browser =
        reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap()).build().unwrap();
    let first = format!("https://127.0.0.1:{}/.tokentray/login", w.oauth_port);
    let page = browser.get(&first).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("certificate") && page.contains(&url.as_str().replace('&', "&amp;")), "{page}");
    let callback = callback_url(&url).await;
    assert!(callback.starts_with(&format!("https://127.0.0.1:{}/cb?", w.oauth_port)), "{callback}");
    let answer = browser.get(&callback).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains("Logged in"));
    login.await.unwrap().unwrap();
    assert_eq!(engine.status("oauth").unwrap().state, State::Valid);
    let key = std::fs::metadata(w.dir.join("data/tls/callback-key.pem")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(key.permissions().mode() & 0o777, 0o600, "the key is private");
    }
    assert!(key.is_file());
}

#[tokio::test]
async fn a_half_sent_request_to_the_callback_is_closed_by_its_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let w = world("login-slowloris", None).await;
    let engine = w.engine();
    let (login, url) = start(&engine, "oauth", |o| o).await;
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", w.oauth_port)).await.unwrap();
    slow.write_all(b"GET /cb HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the callback server closed the connection (10 s header timeout)");
    // The login itself is unharmed.
    assert_eq!(browse(url).await.status(), 200);
    login.await.unwrap().unwrap();
}

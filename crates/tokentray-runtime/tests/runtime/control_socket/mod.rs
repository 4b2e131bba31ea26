//! The control channel: every request answered with the reply its type is
//! paired with; tried as a misbehaving local program would (garbage,
//! unknown requests, invalid UTF-8, a line without end); a client that
//! tells "nothing runs" from "it went away"; and logins run by the serving
//! engine while the client opens the browser or pastes the address.

use crate::common::*;
use std::time::Duration;
use tokentray_runtime::control::{
    self, call, Answer, ClientError, Host, LoginProgress, Refusal, Request, Shown, MAX_LINE,
};
use tokentray_runtime::Remedy;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

mod claim;
mod remote_serve;

fn socket(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("tokentray.sock")
}

fn daemon() -> Host {
    Host { show: None, opens_browser: false, demo: false, stop: None }
}

fn tray() -> Host {
    Host { show: None, opens_browser: true, demo: false, stop: None }
}

/// Sends raw bytes on a fresh connection; returns the lines the server answered before it hung up.
async fn exchange(path: &std::path::Path, bytes: &[u8]) -> Vec<String> {
    let stream = UnixStream::connect(path).await.unwrap();
    let (read, mut write) = stream.into_split();
    // The server may hang up before it has read everything: that is an answer too.
    let _ = write.write_all(bytes).await;
    let _ = write.shutdown().await;
    let mut lines = BufReader::new(read).lines();
    let mut answers = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        answers.push(line);
    }
    answers
}

fn error_of(line: &str) -> String {
    match serde_json::from_str::<Answer<serde_json::Value>>(line).expect("every answer is an answer line") {
        Answer::Error(Refusal { message, .. }) => message,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_requests_get_errors_and_the_channel_keeps_serving() {
    let w = world("control-abuse", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let _server = control::serve(engine.clone(), daemon()).await.unwrap();
    let path = socket(&data_dir);

    let answers = exchange(&path, b"not json\n{\"cmd\":\"format_disk\"}\n{\"cmd\":\"token\"}\n").await;
    assert_eq!(answers.len(), 3, "{answers:?}");
    for answer in &answers {
        assert!(error_of(answer).starts_with("bad request"), "{answer}");
    }

    let answers = exchange(&path, b"\xff\xfe{\"cmd\":\"status\"}\n").await;
    assert!(error_of(&answers[0]).contains("not UTF-8"), "{answers:?}");

    let mut huge = vec![b'x'; MAX_LINE * 4];
    huge.push(b'\n');
    let answers = exchange(&path, &huge).await;
    assert_eq!(answers.len(), 1, "one error, then the server hangs up: {answers:?}");
    assert!(error_of(&answers[0]).contains("longer than"), "{answers:?}");

    // A paste line where a request belongs is a bad request, not a paste.
    let answers = exchange(&path, b"{\"paste\":\"http://127.0.0.1/cb?code=x\"}\n").await;
    assert!(error_of(&answers[0]).starts_with("bad request"), "{answers:?}");

    // Still serving, each reply of its request's type.
    let accounts = control::ask(&data_dir, call::Status {}).await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(control::ask(&data_dir, call::Show {}).await.unwrap(), Shown::Headless);
    engine.shutdown();
}

#[tokio::test]
async fn nothing_running_is_told_from_a_dropped_connection() {
    let dir = scratch("control-gone");
    assert!(matches!(control::ask(&dir, call::Status {}).await, Err(ClientError::NotRunning)));
    assert!(!control::is_running(&dir).await);
    // A socket file a dead process left: nobody answers there either.
    let stale = std::os::unix::net::UnixListener::bind(socket(&dir)).unwrap();
    drop(stale);
    assert!(matches!(control::ask(&dir, call::Status {}).await, Err(ClientError::NotRunning)));

    // Something answers, then hangs up without a reply: not "nothing runs",
    // or the CLI would start a second engine beside it.
    std::fs::remove_file(socket(&dir)).unwrap();
    let listener = tokio::net::UnixListener::bind(socket(&dir)).unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut lines = BufReader::new(stream).lines();
        lines.next_line().await.unwrap();
    });
    let asked = control::ask(&dir, call::Status {}).await;
    assert!(matches!(asked, Err(ClientError::Dropped(_))), "{asked:?}");
    server.await.unwrap();
    assert_eq!(ClientError::Dropped(String::new()).remedy(), Remedy::Retry);
}

#[tokio::test]
async fn the_window_process_gets_accounts_settings_edits_and_live_changes() {
    let w = world("control-window", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let _server = control::serve(engine.clone(), tray()).await.unwrap();

    let accounts = control::ask(&data_dir, call::Accounts {}).await.unwrap();
    assert_eq!(accounts.len(), 2);
    let settings = control::ask(&data_dir, call::Settings {}).await.unwrap();
    assert!(!settings.demo && settings.storage_plaintext);
    assert_eq!(settings.providers, tokentray_runtime::ProviderChoice::all(), "the form's providers come from here");

    // A subscriber hears of every change, starting with its own subscription.
    let (changes_tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let follower = tokio::spawn({
        let data_dir = data_dir.clone();
        async move { control::follow_changes(&data_dir, move |account| drop(changes_tx.send(account.to_owned()))).await }
    });
    assert_eq!(changes.recv().await.as_deref(), Some(""), "subscribed");
    log_in(&engine, "kite").await;
    assert_eq!(changes.recv().await.as_deref(), Some("kite"));
    // The timeline's history has the login, with the state then, and no token.
    tokentray_testkit::eventually_async("the login in the history", || async {
        let Ok(entries) = control::ask(&data_dir, call::History {}).await else { return false };
        // The run's start is on record too, with the account's state then (no token).
        let started = entries.iter().position(|e| e.account == "kite" && e.kind == "started");
        let login = entries.iter().position(|e| e.account == "kite" && e.kind == "token_changed" && e.state.is_some());
        matches!((started, login), (Some(s), Some(l)) if s < l)
    })
    .await;
    let history = std::fs::read_to_string(data_dir.join("history.jsonl")).unwrap();
    let token = engine.tokens("kite").await.unwrap();
    assert!(!history.contains(token.access_token.expose()), "no token in the history");

    // An edit with a secret: saved, applied at once, and the secret never in the config.
    let draft = Box::new(tokentray_adapters::config::edit::AccountDraft {
        id: "fyers".into(),
        provider: "fyers".into(),
        api_key: "XJ1-100".into(),
        redirect_uri: "http://127.0.0.1:5999/cb".into(),
        ..Default::default()
    });
    let save = call::SaveAccount {
        draft,
        replacing: None,
        api_secret: Some(tokentray_adapters::Secret::new("s3cret-value")),
        pin: Some(tokentray_adapters::Secret::new("4321")),
    };
    control::ask(&data_dir, save).await.unwrap();
    assert!(engine.config().account("fyers").is_some(), "applied at once");
    let config = std::fs::read_to_string(w.dir.join("config.toml")).unwrap();
    assert!(!config.contains("s3cret-value") && !config.contains("4321"), "{config}");
    let stored = store(&w.dir);
    use tokentray_adapters::store::{SecretItem, SecretStore};
    assert_eq!(stored.get("fyers", SecretItem::Pin).unwrap().unwrap().expose(), "4321");

    // A bad edit is refused with its reason, and nothing is written.
    let bad = call::SaveThresholds { orange: "1h".into(), red: "2h".into() };
    let Err(ClientError::Refused(refusal)) = control::ask(&data_dir, bad).await else { panic!("refused") };
    assert!(refusal.message.contains("orange must be longer than red"), "{refusal}");
    assert_eq!(std::fs::read_to_string(w.dir.join("config.toml")).unwrap(), config);

    engine.shutdown();
    follower.await.unwrap().expect("the follower ends when the engine stops");
}

#[tokio::test]
async fn a_login_handed_over_that_fails_first_never_claims_the_browser_opened() {
    use tokentray_adapters::store::{SecretItem, SecretStore};
    let w = world("control-login-claim", None).await;
    store(&w.dir).delete("kite", SecretItem::ApiSecret).unwrap();
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let _server = control::serve(engine.clone(), tray()).await.unwrap();
    let said = std::sync::Mutex::new(Vec::new());
    let (_paste, pasted) = tokio::sync::mpsc::channel(1);
    let request = call::Login { account: "kite".into(), no_browser: false, timeout_secs: 30, relayed: false };
    let answer = control::log_in(&data_dir, request, |p| said.lock().unwrap().push(p.clone()), pasted).await;
    let Err(ClientError::Refused(refusal)) = answer else { panic!("an error: {answer:?}") };
    assert_eq!(refusal.remedy, Remedy::Secret, "{refusal}");
    assert!(said.lock().unwrap().is_empty(), "no \"opened the browser\" before the error: {said:?}");
    engine.shutdown();
}

/// A daemon opens no browser: the client is told where to, and the engine
/// that serves the channel receives the callback and stores the token.
#[tokio::test]
async fn a_daemon_has_its_client_open_the_browser_and_stores_the_token_itself() {
    let w = world("control-login-daemon", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let _server = control::serve(engine.clone(), daemon()).await.unwrap();
    let (_paste, pasted) = tokio::sync::mpsc::channel(1);
    let request = call::Login { account: "oauth".into(), no_browser: false, timeout_secs: 30, relayed: false };
    let status = control::log_in(
        &data_dir,
        request,
        |p| match p {
            LoginProgress::OpenBrowser { url, paste, .. } => {
                assert!(!paste, "a loopback callback needs no paste");
                tokio::spawn(browse(url.clone()));
            }
            other => panic!("a daemon opens no browser: {other:?}"),
        },
        pasted,
    )
    .await
    .unwrap();
    assert_eq!(status.state, tokentray_core::State::Valid);
    // The serving engine holds it now: no other process stored it.
    assert_eq!(engine.status("oauth").unwrap().state, tokentray_core::State::Valid);
    assert!(engine.tokens("oauth").await.is_ok());
    engine.shutdown();
}

/// `--no-browser` through a running engine: the address is shown, and what
/// the user pastes travels over the same connection; a wrong paste is
/// answered and the login goes on waiting.
#[tokio::test]
async fn a_login_without_a_browser_takes_the_pasted_address_over_the_channel() {
    let w = world("control-login-paste", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let _server = control::serve(engine.clone(), tray()).await.unwrap();
    let (paste, pasted) = tokio::sync::mpsc::channel(4);
    let (refused_tx, mut refused) = tokio::sync::mpsc::unbounded_channel();
    let request = call::Login { account: "oauth".into(), no_browser: true, timeout_secs: 30, relayed: false };
    let progress = move |p: &LoginProgress| match p {
        LoginProgress::ShowUrl { url } => {
            let (url, paste) = (url.clone(), paste.clone());
            tokio::spawn(async move {
                paste.send(tokentray_adapters::Secret::new("my login")).await.unwrap();
                paste.send(tokentray_adapters::Secret::new(callback_url(&url).await)).await.unwrap();
            });
        }
        LoginProgress::PasteRefused { why } => drop(refused_tx.send(why.clone())),
        other => panic!("nothing opens a browser with no_browser: {other:?}"),
    };
    let status = control::log_in(&data_dir, request, progress, pasted).await.unwrap();
    assert_eq!(status.state, tokentray_core::State::Valid);
    let why = refused.recv().await.expect("the wrong paste was answered");
    assert!(why.contains("paste the whole address"), "{why}");
    engine.shutdown();
}

/// A login asked for over a raw connection, as a script's client would
/// (`--no-browser`): the connection's two sides.
async fn raw_login(
    data_dir: &std::path::Path,
    account: &str,
) -> (tokio::net::unix::OwnedReadHalf, tokio::net::unix::OwnedWriteHalf) {
    let (read, mut write) = UnixStream::connect(socket(data_dir)).await.unwrap().into_split();
    let request =
        Request::from(call::Login { account: account.into(), no_browser: true, timeout_secs: 600, relayed: false });
    write.write_all(format!("{}\n", serde_json::to_string(&request).unwrap()).as_bytes()).await.unwrap();
    (read, write)
}

/// A client that goes away ends its login's wait for the browser: the
/// callback port is free again, and no login waits for a paste.
#[tokio::test]
async fn a_login_whose_client_went_away_stops_waiting() {
    let w = world("control-login-gone", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let _server = control::serve(engine.clone(), daemon()).await.unwrap();
    let (read, write) = raw_login(&data_dir, "kite").await;
    let mut lines = BufReader::new(read).lines();
    let shown = lines.next_line().await.unwrap().expect("the address is shown");
    assert!(shown.contains("show_url"), "{shown}");
    drop(lines);
    drop(write);
    // The engine's own port check: a new login binds the same callback port at once.
    tokentray_testkit::eventually("the login gave up", || {
        std::net::TcpListener::bind(("127.0.0.1", w.kite_port)).is_ok()
    })
    .await;
    engine.shutdown();
}

/// A client that only closes its sending side (a script's `socat`) ends the
/// wait for a paste, and still hears how its login ended.
#[tokio::test]
async fn a_login_whose_client_stops_sending_is_told_how_it_ended() {
    let w = world("control-login-half", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let _server = control::serve(engine.clone(), daemon()).await.unwrap();
    let (read, mut write) = raw_login(&data_dir, "kite").await;
    write.shutdown().await.unwrap();
    let mut lines = BufReader::new(read).lines();
    let mut last = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        last = line;
    }
    let answer: Answer<serde_json::Value> = serde_json::from_str(&last).unwrap();
    assert!(matches!(answer, Answer::Error(_)), "the login ended, and said so: {last}");
    engine.shutdown();
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_asks_nothing_is_closed_and_the_channel_serves_on() {
    let w = world("control-idle", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let _server = control::serve(engine.clone(), daemon()).await.unwrap();
    // Connected, and silent: it holds a task and a descriptor for nothing.
    let silent = UnixStream::connect(socket(&data_dir)).await.unwrap();
    let (read, _write) = silent.into_split();
    let mut rest = Vec::new();
    // The clock runs ahead while everything waits: the idle limit passes.
    tokio::io::AsyncReadExt::read_to_end(&mut BufReader::new(read), &mut rest).await.unwrap();
    assert!(rest.is_empty(), "hung up without a word: {rest:?}");
    assert_eq!(control::ask(&data_dir, call::Status {}).await.unwrap().len(), 2);
    engine.shutdown();
}

/// Stands in for a running TokenTray at `data_dir`: answers the first
/// request of one connection with `answer`, then hangs up.
async fn answers_once(data_dir: &std::path::Path, answer: Vec<u8>) -> tokio::task::JoinHandle<()> {
    std::fs::create_dir_all(data_dir).unwrap();
    let listener = tokio::net::UnixListener::bind(socket(data_dir)).unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut request = String::new();
        BufReader::new(read).read_line(&mut request).await.unwrap();
        // A client that refuses the answer half way hangs up on the rest.
        let _ = write.write_all(&answer).await;
    })
}

#[tokio::test]
async fn a_stream_of_changes_is_followed_past_any_answers_size_and_a_huge_answer_is_refused() {
    let w = scratch("control-long-stream");
    let data_dir = w.join("data");
    // 80 changes naming 60 KiB accounts: 4.8 MiB in all, more than any one answer may be.
    let name = "a".repeat(60 * 1024);
    let changed = format!("{}\n", serde_json::to_string(&Answer::<()>::Changed(name)).unwrap());
    let server = answers_once(&data_dir, changed.repeat(80).into_bytes()).await;
    let mut heard = 0;
    control::follow_changes(&data_dir, |_| heard += 1).await.unwrap();
    assert_eq!(heard, 80, "the stream ends when the engine goes, not at a byte count");
    server.await.unwrap();
    std::fs::remove_file(socket(&data_dir)).unwrap();

    // One answer past the bound is not TokenTray's: refused, not buffered.
    let server = answers_once(&data_dir, vec![b'['; control::MAX_ANSWER + 2]).await;
    let asked = control::ask(&data_dir, call::Status {}).await;
    assert!(matches!(asked, Err(ClientError::Garbled(ref why)) if why.contains("longer")), "{asked:?}");
    server.abort();
}

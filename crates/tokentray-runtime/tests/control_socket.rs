//! The control socket, tried as a misbehaving local program would: garbage,
//! unknown requests, invalid UTF-8 and a line without end. Each gets an
//! error or a closed connection, and the server keeps answering.

mod common;

use common::*;
use tokentray_runtime::ipc::{self, Host, Request, Response, MAX_REQUEST_LINE};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

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
    match serde_json::from_str::<Response>(line).expect("every answer is a response") {
        Response::Error { message, .. } => message,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_requests_get_errors_and_the_socket_keeps_serving() {
    let w = world("control-abuse", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let _server = ipc::serve(engine.clone(), Host { show: None, can_log_in: false, demo: false }).await.unwrap();
    let path = ipc::socket_path(&data_dir);

    let answers = exchange(&path, b"not json\n{\"cmd\":\"format_disk\"}\n{\"cmd\":\"token\"}\n").await;
    assert_eq!(answers.len(), 3, "{answers:?}");
    for answer in &answers {
        assert!(error_of(answer).starts_with("bad request"), "{answer}");
    }

    let answers = exchange(&path, b"\xff\xfe{\"cmd\":\"status\"}\n").await;
    assert!(error_of(&answers[0]).contains("not UTF-8"), "{answers:?}");

    let mut huge = vec![b'x'; MAX_REQUEST_LINE * 4];
    huge.push(b'\n');
    let answers = exchange(&path, &huge).await;
    assert_eq!(answers.len(), 1, "one error, then the server hangs up: {answers:?}");
    assert!(error_of(&answers[0]).contains("longer than"), "{answers:?}");

    // Still serving.
    let Some(Response::Statuses { accounts }) = ipc::request(&data_dir, &Request::Status).await else {
        panic!("the server answers after the abuse");
    };
    assert_eq!(accounts.len(), 2);
    engine.shutdown();
}

#[tokio::test]
async fn the_window_process_gets_accounts_settings_edits_and_live_changes() {
    let w = world("control-window", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let _server = ipc::serve(engine.clone(), Host { show: None, can_log_in: true, demo: false }).await.unwrap();

    let Some(Response::Accounts { accounts }) = ipc::request(&data_dir, &Request::Accounts).await else {
        panic!("accounts answered");
    };
    assert_eq!(accounts.len(), 2);
    let Some(Response::Settings { settings }) = ipc::request(&data_dir, &Request::Settings).await else {
        panic!("settings answered");
    };
    assert!(!settings.demo && settings.storage_plaintext);

    // A subscriber hears of every change, starting with its own subscription.
    let (changes_tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let follower = tokio::spawn({
        let data_dir = data_dir.clone();
        async move { ipc::follow_changes(&data_dir, move |account| drop(changes_tx.send(account.to_owned()))).await }
    });
    assert_eq!(changes.recv().await.as_deref(), Some(""), "subscribed");
    log_in(&engine, "kite").await;
    assert_eq!(changes.recv().await.as_deref(), Some("kite"));
    // The timeline's history has the login, with the state then, and no token.
    tokentray_testkit::eventually_async("the login in the history", || async {
        let Some(Response::History { entries }) = ipc::request(&data_dir, &Request::History).await else {
            return false;
        };
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
    let draft = Box::new(tokentray_adapters::config_edit::AccountDraft {
        id: "fyers".into(),
        provider: "fyers".into(),
        api_key: "XJ1-100".into(),
        redirect_uri: "http://127.0.0.1:5999/cb".into(),
        ..Default::default()
    });
    let save = Request::SaveAccount {
        draft,
        replacing: None,
        api_secret: Some(tokentray_adapters::Secret::new("s3cret-value")),
        pin: Some(tokentray_adapters::Secret::new("4321")),
    };
    assert!(matches!(ipc::request(&data_dir, &save).await, Some(Response::Done { .. })));
    assert!(engine.config().account("fyers").is_some(), "applied at once");
    let config = std::fs::read_to_string(w.dir.join("config.toml")).unwrap();
    assert!(!config.contains("s3cret-value") && !config.contains("4321"), "{config}");
    let stored = store(&w.dir);
    use tokentray_adapters::store::{SecretItem, SecretStore};
    assert_eq!(stored.get("fyers", SecretItem::Pin).unwrap().unwrap().expose(), "4321");

    // A bad edit is refused with its reason, and nothing is written.
    let bad = Request::SaveThresholds { orange: "1h".into(), red: "2h".into() };
    let Some(Response::Error { message, .. }) = ipc::request(&data_dir, &bad).await else { panic!("refused") };
    assert!(message.contains("orange must be longer than red"), "{message}");
    assert_eq!(std::fs::read_to_string(w.dir.join("config.toml")).unwrap(), config);

    engine.shutdown();
    assert!(follower.await.unwrap(), "the follower ends when the engine stops");
}

#[tokio::test]
async fn a_login_handed_over_that_fails_first_never_claims_the_browser_opened() {
    use tokentray_adapters::store::{SecretItem, SecretStore};
    let w = world("control-login-claim", None).await;
    store(&w.dir).delete("kite", SecretItem::ApiSecret).unwrap();
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let _server = ipc::serve(engine.clone(), Host { show: None, can_log_in: true, demo: false }).await.unwrap();
    let said = std::sync::Mutex::new(Vec::new());
    let answer = ipc::request_with_progress(&data_dir, &Request::Login { account: "kite".into() }, |m| {
        said.lock().unwrap().push(m.to_owned())
    })
    .await;
    let Some(Response::Error { remedy, message }) = answer else { panic!("an error: {answer:?}") };
    assert_eq!(remedy, tokentray_runtime::Remedy::Secret, "{message}");
    assert!(said.lock().unwrap().is_empty(), "no \"opened the browser\" before the error: {said:?}");
    engine.shutdown();
}

#[tokio::test]
async fn a_claimed_socket_answers_only_once_served() {
    let w = world("control-claimed", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let claimed = ipc::claim(&engine).await.unwrap();
    assert!(matches!(ipc::claim(&w.engine()).await, Err(ipc::IpcError::AlreadyRunning(_))), "one engine per data dir");
    let asked = tokio::spawn({
        let data_dir = data_dir.clone();
        async move { ipc::request(&data_dir, &Request::Status).await }
    });
    // What start-up recovery would be doing now: the request waits meanwhile.
    let early = tokio::time::timeout(std::time::Duration::from_millis(300), async {
        while !asked.is_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(early.is_err(), "no answer before the engine serves");
    let _server = ipc::serve_claimed(claimed, engine.clone(), Host { show: None, can_log_in: false, demo: false });
    assert!(matches!(asked.await.unwrap(), Some(Response::Statuses { .. })), "answered once served");
    engine.shutdown();
}

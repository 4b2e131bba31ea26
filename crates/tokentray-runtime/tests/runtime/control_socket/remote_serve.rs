//! `tokentray remote-serve`'s relay, as a hostile desktop (or a stolen key
//! limited to that command) would use it: only what `admitted` lists
//! reaches the engine, first lines and later lines alike.

use crate::common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokentray_runtime::control;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Sends `lines` to a relay for `data_dir`, then hangs up; returns what it answered.
async fn relay(data_dir: &std::path::Path, lines: &[&str]) -> Vec<serde_json::Value> {
    let (desktop, server) = tokio::io::duplex(1 << 20);
    let (server_read, server_write) = tokio::io::split(server);
    let serving = tokio::spawn(tokentray_runtime::remote::serve(
        data_dir.to_owned(),
        Default::default(),
        server_read,
        server_write,
    ));
    let (read, mut write) = tokio::io::split(desktop);
    for line in lines {
        write.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    }
    let mut answers = Vec::new();
    let mut read = BufReader::new(read).lines();
    // The hello, then each call's lines and its end.
    let mut ids: Vec<u64> =
        lines.iter().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_u64().unwrap()).collect();
    ids.dedup();
    let ends = ids.len();
    let mut ended = 0;
    while ended < ends {
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), read.next_line()).await.unwrap();
        let value: serde_json::Value = serde_json::from_str(&line.unwrap().unwrap()).unwrap();
        if value["end"] == true {
            ended += 1;
        }
        answers.push(value);
    }
    // The end of standard input ends the relay (the split halves keep the stream open otherwise).
    write.shutdown().await.unwrap();
    let served = tokio::time::timeout(std::time::Duration::from_secs(10), serving).await;
    served.expect("the relay ends with its input").unwrap().unwrap();
    answers
}

#[tokio::test]
async fn only_what_a_desktop_may_ask_reaches_the_engine() {
    let w = world("remote-serve-abuse", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = stopped.clone();
    let stop: Box<dyn Fn() + Send + Sync> = Box::new(move || flag.store(true, Ordering::SeqCst));
    let host = control::Host { show: None, opens_browser: false, demo: false, stop: Some(stop) };
    let _server = control::serve(engine.clone(), host).await.unwrap();

    let answers = relay(
        &data_dir,
        &[
            // Allowed, then a second line on the same call smuggling a stop.
            r#"{"id":1,"line":{"cmd":"status"}}"#,
            r#"{"id":1,"line":{"cmd":"stop"}}"#,
            // Not allowed at all.
            r#"{"id":2,"line":{"cmd":"stop"}}"#,
            r#"{"id":3,"line":{"cmd":"set_secret","account":"kite","item":"api_secret","secret":"evil"}}"#,
            r#"{"id":4,"line":{"cmd":"paste_redirect","account":"kite","url":"http://127.0.0.1/cb?code=x"}}"#,
            // A token not listed in the server's [ssh_access].
            r#"{"id":5,"line":{"cmd":"token","account":"kite"}}"#,
        ],
    )
    .await;
    assert_eq!(answers[0]["tokentray_remote"], 1, "the hello first: {answers:?}");
    let of = |id: u64| answers.iter().filter(|a| a["id"] == id).cloned().collect::<Vec<_>>();
    assert!(of(1)[0]["line"]["reply"].is_array(), "status answered: {:?}", of(1));
    for id in [2, 3, 4] {
        let refused = of(id)[0]["line"]["error"]["message"].as_str().unwrap_or_default().to_owned();
        assert!(refused.contains("do it on the server"), "{id}: {refused}");
    }
    let kept = of(5)[0]["line"]["error"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(kept.contains("[ssh_access] tokens"), "{kept}");
    assert!(!stopped.load(Ordering::SeqCst), "no stop reached the engine");
    let stored = std::fs::read_to_string(data_dir.join("secrets.json")).unwrap_or_default();
    assert!(!stored.contains("evil"), "no secret reached the store");
    engine.shutdown();
}

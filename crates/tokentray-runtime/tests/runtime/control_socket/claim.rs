//! One engine per data directory: the claim on the control channel is
//! taken by one start of many, survives its socket file's removal, is not
//! stopped by a dead process's socket, and outlasts the engine's last work.

use super::*;

#[tokio::test]
async fn a_claimed_channel_answers_only_once_served() {
    let w = world("control-claimed", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    let claimed = control::claim(&engine).await.unwrap();
    assert!(
        matches!(control::claim(&w.engine()).await, Err(control::ServeError::AlreadyRunning(_))),
        "one engine per data dir"
    );
    let asked = tokio::spawn({
        let data_dir = data_dir.clone();
        async move { control::ask(&data_dir, call::Status {}).await }
    });
    // What start-up recovery would be doing now: the request is taken by
    // the kernel and waits; it is neither refused nor dropped.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(!asked.is_finished(), "no answer before the engine serves");
    let _server = control::serve_claimed(claimed, engine.clone(), daemon());
    let answered = tokio::time::timeout(Duration::from_secs(30), asked).await.unwrap().unwrap();
    assert!(matches!(answered, Ok(ref s) if s.len() == 2), "answered once served: {answered:?}");
    engine.shutdown();
}

#[tokio::test]
async fn engines_starting_at_once_leave_exactly_one_that_answers() {
    let w = world("control-race", None).await;
    let data_dir = w.dir.join("data");
    // Eight starts at once: each finds nobody answering, and all but one must
    // still be refused (no start may replace another's socket file).
    let engines: Vec<_> = (0..8).map(|_| w.engine()).collect();
    let claims = futures_util::future::join_all(engines.iter().map(control::claim)).await;
    let (won, refused): (Vec<_>, Vec<_>) = claims.into_iter().zip(&engines).partition(|(c, _)| c.is_ok());
    assert_eq!(won.len(), 1, "one engine per data directory");
    assert!(refused.iter().all(|(c, _)| matches!(c, Err(control::ServeError::AlreadyRunning(_)))));
    let (claimed, engine) = won.into_iter().next().unwrap();
    let _server = control::serve_claimed(claimed.unwrap(), engine.clone(), daemon());
    assert_eq!(control::ask(&data_dir, call::Status {}).await.unwrap().len(), 2, "the one that won answers");
    // Its socket file removed under it (a cleaner of old files, a hand): the
    // engine still runs, and a new start must not become a second one.
    std::fs::remove_file(socket(&data_dir)).unwrap();
    let late = w.engine();
    assert!(matches!(control::claim(&late).await, Err(control::ServeError::AlreadyRunning(_))), "still one engine");
    late.shutdown();
    for e in &engines {
        e.shutdown();
    }
}

#[tokio::test]
async fn a_socket_left_by_a_dead_process_is_replaced_and_the_claim_ends_with_its_process() {
    let w = world("control-stale", None).await;
    let data_dir = w.dir.join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    // A socket file nobody answers on any more: what a killed TokenTray leaves.
    drop(std::os::unix::net::UnixListener::bind(socket(&data_dir)).unwrap());
    assert!(socket(&data_dir).exists());
    assert!(matches!(control::ask(&data_dir, call::Status {}).await, Err(ClientError::NotRunning)));
    let first = w.engine();
    let claimed = control::claim(&first).await.expect("a dead process's socket is no claim");
    drop(claimed);
    assert!(!socket(&data_dir).exists(), "an engine that stops leaves no socket behind");
    let second = w.engine();
    let claimed = control::claim(&second).await.expect("the claim ended with its holder");
    let _server = control::serve_claimed(claimed, second.clone(), daemon());
    assert_eq!(control::ask(&data_dir, call::Status {}).await.unwrap().len(), 2);
    first.shutdown();
    second.shutdown();
}

#[tokio::test]
async fn a_stopping_engine_keeps_its_claim_until_its_last_renewal_is_done() {
    use tokentray_sandbox::{Endpoint, Fault};
    let w = world("control-last-work", None).await;
    let engine = w.engine();
    let data_dir = w.dir.join("data");
    log_in(&engine, "oauth").await;
    let server = control::serve(engine.clone(), daemon()).await.unwrap();
    w.sandbox.inject(Endpoint::OAuth2Token, Fault::Held, Some(1));
    let renewal = tokio::spawn({
        let engine = engine.clone();
        async move { engine.refresh("oauth").await }
    });
    w.sandbox.wait_held(1).await;
    engine.shutdown();
    tokentray_testkit::eventually("the socket gone", || !socket(&data_dir).exists()).await;
    assert!(matches!(control::ask(&data_dir, call::Status {}).await, Err(ClientError::NotRunning)));
    // The renewal is still with the broker: no second engine starts beside it.
    let next = w.engine();
    assert!(matches!(control::claim(&next).await, Err(control::ServeError::AlreadyRunning(_))));
    w.sandbox.release_held();
    renewal.await.unwrap().expect("the renewal in flight finishes");
    server.await.unwrap();
    control::claim(&next).await.expect("the claim ends with the last work");
    next.shutdown();
}

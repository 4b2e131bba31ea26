//! The local API held to its bounds, tried as a local program wearing it
//! down would: half-sent requests, too many connections, too many event
//! streams, a huge body. Each is refused or closed, and status still answers.

use crate::common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokentray_runtime::api::{serve_with, ApiLimits};
use tokentray_runtime::Engine;
use tokentray_testkit::eventually_async;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn setup(name: &str, limits: ApiLimits) -> (World, Engine, SocketAddr) {
    let w = world(name, None).await;
    let engine = w.engine();
    let (addr, _task) = serve_with(engine.clone(), 0, limits).await.unwrap();
    (w, engine, addr)
}

/// A connection that sent part of its request line and then nothing.
async fn half_sent(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /api/token/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.unwrap();
    stream
}

/// The status endpoint's answer; 0 when the connection failed (the server
/// may reset one while it sheds a stalled client), so that a wait retries.
async fn status_code(addr: SocketAddr) -> u16 {
    match reqwest::Client::new().get(format!("http://{addr}/api/token/status")).send().await {
        Ok(r) => r.status().as_u16(),
        Err(e) => {
            eprintln!("status: {e}");
            0
        }
    }
}

#[tokio::test]
async fn a_half_sent_request_is_closed_after_the_header_timeout() {
    let limits = ApiLimits { header_read_timeout: Duration::from_millis(300), ..ApiLimits::default() };
    let (_w, _engine, addr) = setup("bounds-slowloris", limits).await;
    let mut slow = half_sent(addr).await;
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the server closed the connection");
    assert_eq!(status_code(addr).await, 200);
}

#[tokio::test]
async fn past_the_connection_cap_a_client_is_told_503_and_status_comes_back() {
    let limits = ApiLimits { max_connections: 8, ..ApiLimits::default() };
    let (_w, _engine, addr) = setup("bounds-connections", limits).await;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(half_sent(addr).await);
    }
    let r = reqwest::Client::new().get(format!("http://{addr}/api/token/status")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["remedy"], "retry");
    drop(held);
    eventually_async("status answering once the held connections are gone", || async {
        status_code(addr).await == 200
    })
    .await;
}

#[tokio::test]
async fn status_answers_while_hundreds_of_slow_connections_are_held() {
    let (_w, _engine, addr) = setup("bounds-held", ApiLimits::default()).await;
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(half_sent(addr).await);
    }
    for _ in 0..20 {
        let answered = tokio::time::timeout(Duration::from_secs(5), status_code(addr)).await;
        assert_eq!(answered.expect("status answers while they are held"), 200);
    }
    drop(held);
}

#[tokio::test]
async fn past_the_event_stream_cap_a_client_is_told_503() {
    let limits = ApiLimits { max_event_streams: 2, ..ApiLimits::default() };
    let (_w, _engine, addr) = setup("bounds-sse", limits).await;
    let open = || reqwest::Client::new().get(format!("http://{addr}/v1/events")).send();
    let first = open().await.unwrap();
    let second = open().await.unwrap();
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));
    let third = open().await.unwrap();
    assert_eq!(third.status(), 503);
    assert!(third.text().await.unwrap().contains("too many event streams"));
    drop(first);
    eventually_async("a closed stream giving its place back", || async { open().await.unwrap().status() == 200 }).await;
    drop(second);
}

#[tokio::test]
async fn a_large_body_is_refused_unread() {
    let (_w, engine, addr) = setup("bounds-body", ApiLimits::default()).await;
    let key = engine.api_key().await.unwrap();
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/v1/accounts/oauth/check"))
        .bearer_auth(key.expose())
        .body(vec![b'x'; 1 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(status_code(addr).await, 200);
}

#[tokio::test]
async fn a_client_that_asks_and_never_reads_loses_its_connection() {
    let limits = ApiLimits { max_connections: 1, write_timeout: Duration::from_millis(300), ..ApiLimits::default() };
    let (_w, _engine, addr) = setup("bounds-stalled-reader", limits).await;
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    // Pipelined requests whose answers fill the socket buffers, never read.
    let request = b"GET /api/token/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(20_000);
    let _ = tokio::time::timeout(Duration::from_secs(5), stalled.write_all(&request)).await;
    // The only place under the cap comes back once the stalled answer times out.
    eventually_async("the stalled connection closed and its place freed", || async { status_code(addr).await == 200 })
        .await;
    drop(stalled);
}

#[tokio::test]
async fn the_api_answers_on_both_loopbacks_or_not_at_all() {
    let (_w, _engine, addr) = setup("bounds-loopbacks", ApiLimits::default()).await;
    let v6 = format!("http://[::1]:{}/api/token/status", addr.port());
    assert_eq!(reqwest::get(&v6).await.unwrap().status(), 200, "a script asking for localhost may land on [::1]");

    // Another program holding [::1] on the API's port would receive the key of
    // every script that asks for localhost: the API does not start.
    let w = world("bounds-loopback-taken", None).await;
    let port = tokentray_testkit::free_port();
    let squatter = std::net::TcpListener::bind(("::1", port)).unwrap();
    let e = serve_with(w.engine(), port, ApiLimits::default()).await.unwrap_err();
    assert!(e.to_string().contains("[::1]"), "{e}");
    drop(squatter);
}

//! The status endpoint's latency with 1,000 slow connections held open
//! (each sent half a request line and then nothing), next to the same with
//! none (the baseline, same run). The server runs on one thread, as in the
//! daemon; the client on another, with one keep-alive connection.
//!
//! `cargo bench -p tokentray-runtime --bench slow_connections`

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokentray_adapters::config::Config;
use tokentray_adapters::store::PlaintextStore;
use tokentray_runtime::{Engine, EngineOptions, LogNotifier, SystemClock};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const REQUESTS: usize = 2001;
const SLOW: usize = 1000;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn measure(client: &reqwest::Client, url: &str) -> (f64, f64) {
    let mut times = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let started = Instant::now();
        let r = client.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn main() {
    tokentray_runtime::process::raise_open_file_limit();
    let dir = tokentray_testkit::scratch("bench-slow");
    let text = "storage = \"plaintext\"\n[[account]]\nid = \"kite\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:9/cb\"\n";
    let config = Config::parse(text, &dir.join("config.toml")).unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let data = dir.join("data");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let engine = Engine::new(
                config,
                EngineOptions {
                    data_dir: data.clone(),
                    store: Arc::new(PlaintextStore::new(data.join("secrets.json"))),
                    clock: Arc::new(SystemClock),
                    notifier: Arc::new(LogNotifier),
                },
            )
            .unwrap();
            let (addr, task) = tokentray_runtime::api::serve(engine, 0).await.unwrap();
            addr_tx.send(addr).unwrap();
            let _ = task.await;
        });
    });
    let addr = addr_rx.recv().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let url = format!("http://{addr}/api/token/status");
        measure(&client, &url).await; // warm-up
        let (base50, base99) = measure(&client, &url).await;
        let mut slow = Vec::with_capacity(SLOW);
        for _ in 0..SLOW {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /api/token/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.unwrap();
            slow.push(s);
        }
        let started = Instant::now();
        let (held50, held99) = measure(&client, &url).await;
        let took = started.elapsed();
        let open = slow.iter().filter(|s| {
            let mut buf = [0u8; 1];
            matches!(s.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        });
        println!("status over {REQUESTS} requests, one keep-alive connection, server on one thread:");
        println!("  baseline (no slow connection):   p50 {base50:.3} ms, p99 {base99:.3} ms");
        println!(
            "  with {SLOW} slow connections held: p50 {held50:.3} ms, p99 {held99:.3} ms ({} still open after {:.1} s)",
            open.count(),
            took.as_secs_f64()
        );
        println!("  ratio held/baseline: p50 {:.2}x, p99 {:.2}x", held50 / base50, held99 / base99);
    });
}

//! Serving the API with bounds, so that no local program can wear it down:
//! a connection that has not sent its headers in time is closed, and past
//! the caps on connections and event streams a client is told 503 at once.
//! Bodies are not read by any endpoint; a declared large one is refused.

use super::{router, ApiError, Problem};
use crate::Engine;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How much the API takes from anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLimits {
    /// A connection must have sent its request headers within this.
    pub header_read_timeout: Duration,
    /// An answer the client does not read for this long ends the connection.
    pub write_timeout: Duration,
    /// Open connections at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// `/v1/events` streams at once; more are answered 503.
    pub max_event_streams: usize,
    /// A request declaring a larger body is answered 413.
    pub max_body_bytes: u64,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections: 2048,
            max_event_streams: 64,
            max_body_bytes: 16 * 1024,
        }
    }
}

/// Binds 127.0.0.1:`port` and serves until the engine shuts down.
pub async fn serve(engine: Engine, port: u16) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), ApiError> {
    serve_with(engine, port, ApiLimits::default()).await
}

/// [`serve`] with limits of one's own (tests use small ones).
pub async fn serve_with(
    engine: Engine,
    port: u16,
    limits: ApiLimits,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), ApiError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = TcpListener::bind(addr).await.map_err(|source| ApiError { addr, source })?;
    let addr = listener.local_addr().map_err(|source| ApiError { addr, source })?;
    // A script that asks for `localhost` may reach [::1] first: whoever holds
    // that port there would receive its API key. So it is ours, or no API.
    let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()));
    let mut listeners = vec![listener];
    match TcpListener::bind(v6).await {
        Ok(listener) => listeners.push(listener),
        Err(e) if crate::plumbing::loopback::no_ipv6(&e) => {
            tracing::debug!("no IPv6 loopback here; the API is on {addr} only")
        }
        Err(source) => return Err(ApiError { addr: v6, source }),
    }
    let stopped = engine.stopped();
    let app = router(engine, limits);
    // Below the open-file limit, so that refusing stays possible when the cap is reached.
    let cap = limits.max_connections.min(crate::plumbing::process::open_file_limit().saturating_sub(256).max(16));
    let connections = Arc::new(Semaphore::new(cap));
    // Answering 503 takes a file descriptor for a moment too: past these, a connection is just closed.
    let refusals = Arc::new(Semaphore::new(64));
    let accepting: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            let (app, stopped) = (app.clone(), stopped.clone());
            accept(listener, app, stopped, connections.clone(), refusals.clone(), limits)
        })
        .collect();
    let task = tokio::spawn(async move {
        futures_util::future::join_all(accepting).await;
    });
    tracing::info!("local API on http://{addr}");
    Ok((addr, task))
}

/// Takes connections on one listener until the engine stops.
async fn accept(
    listener: TcpListener,
    app: axum::Router,
    stopped: tokio::sync::watch::Receiver<bool>,
    connections: Arc<Semaphore>,
    refusals: Arc<Semaphore>,
    limits: ApiLimits,
) {
    let stopping = until_stopped(stopped.clone());
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match connections.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let (app, stopped) = (app.clone(), stopped.clone());
                        tokio::spawn(connection(stream, app, permit, limits, stopped));
                    }
                    Err(_) => {
                        if let Ok(permit) = refusals.clone().try_acquire_owned() {
                            tokio::spawn(async move {
                                refuse_busy(stream).await;
                                drop(permit);
                            });
                        }
                    }
                },
                // Out of file descriptors, say: give the connections in flight a moment to end.
                Err(e) => {
                    tracing::warn!("the local API cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = &mut stopping => break,
        }
    }
}

async fn connection(
    stream: TcpStream,
    app: axum::Router,
    _permit: OwnedSemaphorePermit,
    limits: ApiLimits,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // Requests here are a few hundred bytes; a client must not make us buffer more.
        .max_buf_size(MAX_READ_BUFFER)
        .serve_connection(
            TokioIo::new(WriteDeadline::new(stream, limits.write_timeout)),
            TowerToHyperService::new(app),
        );
    tokio::select! {
        _ = served => {}
        // An event stream never ends by itself: a stop ends it.
        _ = until_stopped(stopped) => {}
    }
}

/// The most a connection's read buffer holds (hyper's least is 8 KiB).
const MAX_READ_BUFFER: usize = 16 * 1024;

/// A stream whose writes fail once they have made no progress for `limit`:
/// a client that asks (pipelining, say) and never reads must not hold a
/// connection, and its place under the cap, for ever.
struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteDeadline<S> {
    fn new(inner: S, limit: Duration) -> Self {
        Self { inner, limit, stalled: None }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> WriteDeadline<S> {
    /// Runs a write-side poll; a pending one arms (or checks) the deadline.
    fn guard<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        poll: impl FnOnce(std::pin::Pin<&mut S>, &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        use std::future::Future;
        use std::task::Poll;
        match poll(std::pin::Pin::new(&mut self.inner), cx) {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let limit = self.limit;
                let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match stalled.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client has not read its answer",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.get_mut().guard(cx, |inner, cx| inner.poll_write(cx, buf))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.get_mut().guard(cx, |inner, cx| inner.poll_flush(cx))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.get_mut().guard(cx, |inner, cx| inner.poll_shutdown(cx))
    }
}

/// Resolves once the engine stops.
async fn until_stopped(mut stopped: tokio::sync::watch::Receiver<bool>) {
    while !*stopped.borrow_and_update() {
        if stopped.changed().await.is_err() {
            return;
        }
    }
}

/// Past the connection cap: a 503 the client can read, then the close. The
/// client's request head is read first (briefly, and at most 8 KiB): a
/// client that gets its answer before it has asked takes it for garbage.
async fn refuse_busy(mut stream: TcpStream) {
    let body = r#"{"error":"the local API has too many connections open; try again shortly","remedy":"retry"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut head = Vec::with_capacity(1024);
        let mut buf = [0u8; 1024];
        while head.len() < 8 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// A request that declares a body larger than the limit is refused before
/// anything reads it.
pub(super) async fn bounded_body(limit: u64, request: Request, next: Next) -> Response {
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Problem::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the API takes bodies of {limit} bytes at most"))
            .into_response();
    }
    next.run(request).await
}

/// The event streams open at once, shared by the streams of one server.
#[derive(Clone)]
pub(super) struct EventStreams(pub Arc<Semaphore>);

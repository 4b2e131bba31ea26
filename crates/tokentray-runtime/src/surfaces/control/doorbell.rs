//! The one window's doorbell: the first window claims it for its life; a
//! second one rings it ("show") and leaves. Over the same OS seam as the
//! control channel (a socket file on Unix, a named pipe on Windows), at an
//! endpoint of its own.

use super::lines::LineReader;
use super::transport::{self, BindError, ConnectError, Connection, Endpoint, Listener};
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// What a ring may say: one short word.
const MAX_RING: usize = 64;

/// The claimed doorbell; the claim is the window's: one at a time.
pub struct Doorbell {
    listener: Listener,
}

#[derive(Debug, thiserror::Error)]
pub enum DoorbellError {
    #[error("another window holds the doorbell but does not answer: {0}")]
    NoAnswer(String),
    #[error("the window's doorbell in {dir}: {source}")]
    Io { dir: String, source: std::io::Error },
}

/// Claims the doorbell of `data_dir`; `None` when another window holds it.
pub async fn claim(data_dir: &Path) -> Result<Option<Doorbell>, DoorbellError> {
    let io = |source| DoorbellError::Io { dir: data_dir.display().to_string(), source };
    match transport::bind(data_dir, Endpoint::Window).await {
        Ok(listener) => Ok(Some(Doorbell { listener })),
        Err(BindError::Taken) => Ok(None),
        Err(BindError::Failed(e)) => Err(io(e)),
    }
}

impl Doorbell {
    /// The next ring's word (e.g. "show").
    pub async fn next(&self) -> std::io::Result<String> {
        loop {
            let Connection { read, .. } = self.listener.accept().await?;
            let mut lines = LineReader::new(read, MAX_RING);
            if let Ok(Ok(Some(word))) = tokio::time::timeout(Duration::from_secs(5), lines.next()).await {
                return Ok(word.trim().to_owned());
            }
        }
    }
}

/// Rings the doorbell of the window that holds it. It binds right after
/// taking the claim, so a moment's wait may be needed.
pub async fn ring(data_dir: &Path, word: &str) -> Result<(), DoorbellError> {
    let started = std::time::Instant::now();
    loop {
        let failed = match transport::connect(data_dir, Endpoint::Window).await {
            Ok(Connection { mut write, .. }) => match write.write_all(format!("{word}\n").as_bytes()).await {
                Ok(()) => {
                    let _ = write.shutdown().await;
                    return Ok(());
                }
                Err(e) => e.to_string(),
            },
            Err(ConnectError::Nobody) => "nobody answers".to_owned(),
            Err(ConnectError::Failed(e)) => e.to_string(),
        };
        if started.elapsed() > Duration::from_secs(5) {
            return Err(DoorbellError::NoAnswer(failed));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

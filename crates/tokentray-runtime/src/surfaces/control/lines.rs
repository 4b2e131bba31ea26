//! Reading the channel's lines, whichever end: each bounded on its own (a
//! stream of changes may run for months, so no bound on the whole), and
//! safe to wait on beside other things (`select!`): a line that has only
//! partly arrived is kept for the next call, never lost or split.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("a line longer than {0} bytes")]
    TooLong(usize),
    #[error("a line that is not UTF-8")]
    NotUtf8,
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
}

pub struct LineReader<R> {
    reader: BufReader<R>,
    /// What has arrived of the line being read.
    partial: Vec<u8>,
    limit: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Lines of at most `limit` bytes, newline excluded.
    pub fn new(read: R, limit: usize) -> Self {
        Self { reader: BufReader::new(read), partial: Vec::new(), limit }
    }

    /// The next line, without its newline; `None` at the end of the stream.
    /// The last line may lack its newline. After an error the rest of the
    /// stream cannot be told apart: the caller hangs up.
    pub async fn next(&mut self) -> Result<Option<String>, LineError> {
        let room = (self.limit + 1).saturating_sub(self.partial.len());
        let read = (&mut self.reader).take(room as u64).read_until(b'\n', &mut self.partial).await?;
        if self.partial.last() == Some(&b'\n') {
            self.partial.pop();
        } else if self.partial.len() > self.limit {
            self.partial.clear();
            return Err(LineError::TooLong(self.limit));
        } else if read == 0 && self.partial.is_empty() {
            return Ok(None);
        }
        let line = std::mem::take(&mut self.partial);
        String::from_utf8(line).map(Some).map_err(|_| LineError::NotUtf8)
    }

    /// Waits until anything more arrives, or the stream ends: for a peer
    /// that is to send nothing more, either means it is gone.
    pub async fn more_or_end(&mut self) {
        let _ = self.reader.fill_buf().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_line_that_partly_arrived_survives_a_wait_given_up() {
        let (mut far, near) = tokio::io::duplex(64);
        let mut lines = LineReader::new(near, 1024);
        far.write_all(b"{\"paste\":\"https://ex").await.unwrap();
        // Another branch of a select wins while the line is half read.
        tokio::select! {
            biased;
            _ = lines.next() => panic!("half a line is not a line"),
            () = std::future::ready(()) => {}
        }
        far.write_all(b"ample.com/cb\"}\nnext\n").await.unwrap();
        assert_eq!(lines.next().await.unwrap().as_deref(), Some("{\"paste\":\"https://example.com/cb\"}"));
        assert_eq!(lines.next().await.unwrap().as_deref(), Some("next"));
        drop(far);
        assert_eq!(lines.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn each_line_is_bounded_not_the_stream() {
        let many = "x".repeat(99) + "\n";
        let stream = many.repeat(1000) + &"y".repeat(101) + "\n";
        let mut lines = LineReader::new(stream.as_bytes(), 100);
        for _ in 0..1000 {
            assert_eq!(lines.next().await.unwrap().map(|l| l.len()), Some(99));
        }
        assert!(matches!(lines.next().await, Err(LineError::TooLong(100))));
    }

    #[tokio::test]
    async fn a_last_line_without_its_newline_is_still_a_line() {
        let mut lines = LineReader::new(&b"one\ntwo"[..], 100);
        assert_eq!(lines.next().await.unwrap().as_deref(), Some("one"));
        assert_eq!(lines.next().await.unwrap().as_deref(), Some("two"));
        assert_eq!(lines.next().await.unwrap(), None);
        let mut lines = LineReader::new(&b"\xff\xfe\n"[..], 100);
        assert!(matches!(lines.next().await, Err(LineError::NotUtf8)));
    }
}

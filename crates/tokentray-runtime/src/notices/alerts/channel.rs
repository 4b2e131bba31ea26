//! How each channel is spoken: one attempt to deliver one message.
//! Sources: ntfy's publishing API (https://docs.ntfy.sh/publish/, JSON
//! publishing to the server's root), the Telegram Bot API's `sendMessage`
//! (https://core.telegram.org/bots/api#sendmessage and its error object's
//! `parameters.retry_after`), and GitHub's webhook signature convention
//! (`X-Hub-Signature-256: sha256=<hex>`, here `X-TokenTray-Signature-256`).

use super::message::AlertMessage;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;
use tokentray_adapters::config::alerts::{secret_may_go_to, Channel};
use tokentray_adapters::provider::{parse_retry_after, read_bounded};
use tokentray_adapters::Secret;
use url::Url;

use crate::plumbing::process_tree::{ProcessTree, Terminal};

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    /// Trying again will not help until the user fixes something (a wrong
    /// URL, a missing or refused secret, a program that is not there).
    #[error("{0}")]
    Refused(String),
    /// The service or the network had trouble: worth another try.
    #[error("{why}")]
    Failed { why: String, retry_after: Option<Duration> },
}

impl AlertError {
    fn failed(why: impl Into<String>) -> Self {
        Self::Failed { why: why.into(), retry_after: None }
    }
}

/// The most of a service's answer kept for an error message.
const ANSWER_SHOWN: usize = 200;
/// The most of a command's standard error read (the first line is kept).
const STDERR_KEPT: u64 = 4 * 1024;
/// The most of a service's answer read at all (they are a few hundred bytes).
const MAX_ANSWER: usize = 64 * 1024;

/// Sends `message` on `channel` now (`sent_at`, from the engine's clock).
pub async fn deliver(
    channel: &Channel,
    message: &AlertMessage,
    secret: Option<&Secret>,
    http: &reqwest::Client,
    sent_at: tokentray_core::Instant,
) -> Result<(), AlertError> {
    match channel {
        Channel::Webhook { url } => webhook(url, message, secret, http, sent_at).await,
        Channel::Ntfy { url } => ntfy(url, message, secret, http).await,
        Channel::Telegram { chat_id, api_base } => telegram(api_base, chat_id, message, secret, http).await,
        Channel::Command { program, args, timeout } => command(program, args, *timeout, message).await,
    }
}

async fn webhook(
    url: &Url,
    message: &AlertMessage,
    key: Option<&Secret>,
    http: &reqwest::Client,
    sent_at: tokentray_core::Instant,
) -> Result<(), AlertError> {
    let body = serde_json::to_vec(message).expect("messages serialize");
    let timestamp = sent_at.timestamp().to_string();
    let mut request = http
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-TokenTray-Event", message.event.as_str())
        .header("X-TokenTray-Timestamp", &timestamp);
    // The key itself never travels: only the signature does. It covers the
    // time too, so that a receiver can refuse a request replayed later.
    if let Some(key) = key {
        request = request.header("X-TokenTray-Signature-256", format!("sha256={}", signature(key, &timestamp, &body)));
    }
    answer(request.body(body).send().await).await.map(drop)
}

async fn ntfy(
    url: &Url,
    message: &AlertMessage,
    token: Option<&Secret>,
    http: &reqwest::Client,
) -> Result<(), AlertError> {
    // JSON publishing goes to the server's root with the topic inside,
    // which carries any title or label (headers would need ASCII).
    let mut root = url.clone();
    let topic = url.path_segments().and_then(|mut s| s.next_back()).filter(|t| !t.is_empty()).map(str::to_owned);
    // The topic is a secret of sorts on a public server: errors name the server only.
    let server = url.host_str().unwrap_or_default().to_owned();
    let topic = topic.ok_or_else(|| AlertError::Refused(format!("the ntfy address on {server} names no topic")))?;
    root.path_segments_mut()
        .map_err(|()| AlertError::Refused(format!("the ntfy address on {server} is no topic URL")))?
        .pop();
    let root = Url::parse(&format!("{}/", root.as_str().trim_end_matches('/'))).expect("a URL");
    let body = serde_json::json!({
        "topic": topic,
        "title": message.title,
        "message": message.body(),
        "priority": message.priority(),
        "tags": message.tags(),
    });
    let mut request = http.post(root).json(&body);
    if let Some(token) = token {
        if !secret_may_go_to(url) {
            return Err(AlertError::Refused(format!(
                "the access token would travel unencrypted to {server}: use https"
            )));
        }
        request = request.bearer_auth(token.expose());
    }
    answer(request.send().await).await.map(drop)
}

async fn telegram(
    api_base: &Url,
    chat_id: &str,
    message: &AlertMessage,
    bot_token: Option<&Secret>,
    http: &reqwest::Client,
) -> Result<(), AlertError> {
    let token = bot_token.ok_or_else(|| AlertError::Refused("no bot token is set".to_owned()))?;
    let url = format!("{}/bot{}/sendMessage", api_base.as_str().trim_end_matches('/'), token.expose());
    let body = serde_json::json!({ "chat_id": chat_id, "text": message.text() });
    // Any 2xx is Telegram's acceptance: trying again would send it twice.
    answer(http.post(url).json(&body).send().await).await.map(drop)
}

async fn command(
    program: &std::path::Path,
    args: &[String],
    timeout: Duration,
    message: &AlertMessage,
) -> Result<(), AlertError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // A tree of its own: a timeout stops whatever it started too.
    let mut child = ProcessTree::spawn(command, Terminal::Leave)
        .map_err(|e| AlertError::Refused(format!("cannot run {}: {e}", program.display())))?;
    let (mut stdin, stderr) = (child.take_stdin().expect("piped"), child.take_stderr().expect("piped"));
    let json = serde_json::to_vec(message).expect("messages serialize");
    // The first few KiB of what it says, read beside it (a chatty program
    // never fills the memory, nor blocks on a full pipe).
    let said = tokio::spawn(async move {
        let mut first = Vec::new();
        let _ = stderr.take(STDERR_KEPT).read_to_end(&mut first).await;
        String::from_utf8_lossy(&first).into_owned()
    });
    let run = async {
        // A program that does not read its input still gets to run and answer.
        let _ = stdin.write_all(&json).await;
        drop(stdin);
        // Its exit, not its output's end: something it left running in the
        // background may hold standard error open for long.
        child.wait().await
    };
    let status = match tokio::time::timeout(timeout, run).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(AlertError::failed(format!("{}: {e}", program.display()))),
        Err(_) => {
            child.kill().await;
            // A program that hangs once hangs again: not retried.
            return Err(AlertError::Refused(format!(
                "{} did not finish within {}s and was stopped",
                program.display(),
                timeout.as_secs()
            )));
        }
    };
    if status.success() {
        return Ok(());
    }
    let said =
        tokio::time::timeout(Duration::from_millis(200), said).await.ok().and_then(Result::ok).unwrap_or_default();
    let first = said.lines().next().unwrap_or("").to_owned();
    Err(AlertError::failed(format!("{} exited with {status}: {}", program.display(), shown(&first))))
}

/// A service's answer: its body on success; else what failed, and whether
/// trying again may help (5xx, 408, 429 and transport trouble may).
async fn answer(sent: reqwest::Result<reqwest::Response>) -> Result<String, AlertError> {
    // Without the URL: Telegram's carries the bot token.
    let transport = |e: reqwest::Error| AlertError::failed(e.without_url().to_string());
    let mut response = sent.map_err(transport)?;
    let status = response.status().as_u16();
    let header_wait = parse_retry_after(response.headers());
    let bytes = read_bounded(&mut response, MAX_ANSWER).await.map_err(transport)?;
    let text = String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned();
    if (200..300).contains(&status) {
        return Ok(text);
    }
    // Telegram says how long to wait in its error object, not (always) in a header.
    let body_wait = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["parameters"]["retry_after"].as_u64())
        .map(Duration::from_secs);
    let why = format!("HTTP {status}: {}", shown(&text));
    if status >= 500 || status == 408 || status == 429 {
        Err(AlertError::Failed { why, retry_after: header_wait.or(body_wait) })
    } else {
        Err(AlertError::Refused(why))
    }
}

/// HMAC-SHA256 of `timestamp.body` with the alert's key, in hex.
pub fn signature(key: &Secret, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// A bounded, one-line excerpt of what a service or program said.
fn shown(text: &str) -> String {
    let line: String = text.chars().filter(|c| !c.is_control()).take(ANSWER_SHOWN).collect();
    line.trim().to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! `/v1/events`: token and state changes as Server-Sent Events. Each event
//! has an id; a client that reconnects with `Last-Event-ID` first receives
//! what it missed. No event carries a token.

use super::server::EventStreams;
use super::Problem;
use crate::{Engine, EngineEvent};
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;

/// The event as it was when it happened: a replay tells what was true then.
fn to_sse(e: &EngineEvent) -> Event {
    let data = json!({
        "account": e.account,
        "kind": e.kind,
        "at": e.at,
        "state": e.snapshot.map(|s| s.state),
        "level": e.snapshot.map(|s| s.level),
        "expires_at": e.snapshot.and_then(|s| s.expires_at),
        "act_by": e.snapshot.and_then(|s| s.act_by),
    });
    Event::default().id(e.id.to_string()).event(e.kind.as_str()).data(data.to_string())
}

/// The event a resuming client saw last, from its `Last-Event-ID` (any
/// text a client sends); `None` when it is not an event id.
pub fn last_event_id(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

struct Cursor {
    engine: Engine,
    /// This stream's place under the cap, given back when the client goes.
    _slot: tokio::sync::OwnedSemaphorePermit,
    live: broadcast::Receiver<crate::EngineEvent>,
    backlog: VecDeque<Event>,
    last: u64,
}

pub async fn stream(
    State(engine): State<Engine>,
    Extension(EventStreams(streams)): Extension<EventStreams>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let slot = streams.try_acquire_owned().map_err(|_| {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "too many event streams are open; try again shortly")
    })?;
    // Subscribe before reading the backlog, so that nothing falls between them.
    let live = engine.subscribe();
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(query.get("last_event_id").map(String::as_str))
        .and_then(last_event_id);
    let mut backlog = VecDeque::new();
    let mut last = 0;
    if let Some(after) = resume {
        last = after;
        match engine.events_since(after) {
            Some(missed) => {
                for e in &missed {
                    backlog.push_back(to_sse(e));
                    last = e.id;
                }
            }
            None => backlog.push_back(
                Event::default().event("reset").data(r#"{"reason":"events were missed; re-read /v1/accounts"}"#),
            ),
        }
    }
    let cursor = Cursor { engine, _slot: slot, live, backlog, last };
    let events = stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(event) = c.backlog.pop_front() {
                return Some((Ok(event), c));
            }
            match c.live.recv().await {
                Ok(e) if e.id > c.last => {
                    c.last = e.id;
                    let event = to_sse(&e);
                    return Some((Ok(event), c));
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Too slow a reader: catch up from the record, or tell it to resync.
                    match c.engine.events_since(c.last) {
                        Some(missed) => {
                            for e in &missed {
                                c.backlog.push_back(to_sse(e));
                                c.last = e.id;
                            }
                        }
                        None => c.backlog.push_back(
                            Event::default()
                                .event("reset")
                                .data(r#"{"reason":"events were missed; re-read /v1/accounts"}"#),
                        ),
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

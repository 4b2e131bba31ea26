//! Where the engine's events go: numbered, kept in a ring for SSE clients
//! that resume with `Last-Event-ID`, and broadcast to every listener.

use crate::plumbing::mutex::lock;
use crate::EngineEvent;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::broadcast;

pub(crate) struct EventLog {
    sender: broadcast::Sender<EngineEvent>,
    recent: Mutex<RecentEvents>,
}

impl EventLog {
    pub fn new() -> Self {
        Self { sender: broadcast::channel(256).0, recent: Mutex::new(RecentEvents::default()) }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.sender.subscribe()
    }

    /// Numbers `event`, records it and sends it. Under one lock, so that ids
    /// reach the ring and the channel in order.
    pub fn publish(&self, event: EngineEvent) {
        let mut recent = lock(&self.recent);
        let event = recent.push(event);
        let _ = self.sender.send(event);
    }

    /// The recorded events after `after`, or `None` when some of them are no
    /// longer recorded (the client must re-read the state).
    pub fn since(&self, after: u64) -> Option<Vec<EngineEvent>> {
        lock(&self.recent).since(after)
    }
}

/// How many past events a resuming client can catch up on.
pub const RECENT_EVENTS: usize = 1024;

struct RecentEvents {
    ring: VecDeque<EngineEvent>,
    next_id: u64,
}

impl Default for RecentEvents {
    fn default() -> Self {
        Self { ring: VecDeque::with_capacity(RECENT_EVENTS), next_id: 1 }
    }
}

impl RecentEvents {
    /// Numbers `event` and records it; returns it with its id.
    fn push(&mut self, mut event: EngineEvent) -> EngineEvent {
        event.id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        if self.ring.len() == RECENT_EVENTS {
            self.ring.pop_front();
        }
        self.ring.push_back(event.clone());
        event
    }

    /// The recorded events after `after`, or `None` when some of them are no
    /// longer recorded (the client must re-read the state). An id from the
    /// future (another process's, or made up) is answered with `None` too.
    fn since(&self, after: u64) -> Option<Vec<EngineEvent>> {
        let oldest = self.ring.front().map_or(self.next_id, |e| e.id);
        if after.saturating_add(1) < oldest || after >= self.next_id {
            return None;
        }
        Some(self.ring.iter().filter(|e| e.id > after).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventKind;

    fn event() -> EngineEvent {
        EngineEvent {
            id: 0,
            account: "a".into(),
            kind: EventKind::StatusChanged,
            at: tokentray_core::Instant::UNIX_EPOCH,
            snapshot: None,
        }
    }

    #[test]
    fn resuming_gets_what_was_missed_or_a_reset() {
        let mut r = RecentEvents::default();
        assert_eq!(r.since(0).unwrap().len(), 0);
        for _ in 0..RECENT_EVENTS + 10 {
            r.push(event());
        }
        assert!(r.since(5).is_none(), "the first events fell out of the ring");
        let tail = r.since((RECENT_EVENTS + 5) as u64).unwrap();
        assert_eq!(
            tail.iter().map(|e| e.id).collect::<Vec<_>>(),
            (RECENT_EVENTS as u64 + 6..=RECENT_EVENTS as u64 + 10).collect::<Vec<_>>()
        );
        assert!(r.since(u64::MAX).is_none(), "an id from the future asks for a reset, and does not overflow");
        assert!(r.since(u64::MAX - 1).is_none());
    }
}

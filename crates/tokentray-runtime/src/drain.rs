//! Work in flight (refreshes, stores, writes), so that a stop waits for it:
//! SIGTERM must not cut a rotated token off between the provider and the
//! secret store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Default)]
pub struct Drain {
    running: AtomicUsize,
    idle: Notify,
}

/// Held while one piece of work runs.
pub struct WorkGuard(Arc<Drain>);

impl Drop for WorkGuard {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Drain {
    pub fn begin(self: &Arc<Self>) -> WorkGuard {
        self.running.fetch_add(1, Ordering::AcqRel);
        WorkGuard(self.clone())
    }

    /// Waits until no work runs, or `limit` passes; returns whether it drained.
    pub async fn wait(&self, limit: Duration) -> bool {
        let drained = async {
            loop {
                let idle = self.idle.notified();
                if self.running.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(limit, drained).await.is_ok()
    }
}

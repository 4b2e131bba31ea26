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

#[cfg(test)]
mod tests {
    use super::*;

    // Time is the only thing these wait for: the paused clock jumps ahead
    // when every task is idle, so a 15-second limit takes no real time.
    #[tokio::test(start_paused = true)]
    async fn a_stop_waits_for_work_in_flight_up_to_its_limit() {
        let drain = Arc::new(Drain::default());
        assert!(drain.wait(Duration::from_secs(15)).await, "nothing runs: drained at once");

        let stuck = drain.begin();
        let started = tokio::time::Instant::now();
        assert!(!drain.wait(Duration::from_secs(15)).await, "stuck work: the limit ends the wait");
        assert_eq!(started.elapsed(), Duration::from_secs(15));
        drop(stuck);

        let work = drain.begin();
        let finisher = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(work);
        });
        let started = tokio::time::Instant::now();
        assert!(drain.wait(Duration::from_secs(15)).await, "the work ended in time");
        assert_eq!(started.elapsed(), Duration::from_secs(2), "the stop went on as soon as it ended");
        finisher.await.unwrap();
    }
}

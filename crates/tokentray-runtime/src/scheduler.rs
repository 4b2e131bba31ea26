//! The one task that drives every lifecycle: it sleeps until the earliest due
//! action, wakes, reads the wall clock, and runs what is due.

use crate::Engine;
use std::time::Duration;

/// The longest sleep. Timers run on the monotonic clock, which stops while the
/// machine is suspended and ignores wall-clock changes; waking at least this
/// often is what notices a resume or a clock jump in time.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

impl Engine {
    /// Starts the scheduler on the current tokio runtime. It ends on `shutdown`.
    pub fn spawn_scheduler(&self) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move { engine.schedule().await })
    }

    async fn schedule(self) {
        let mut stopped = self.stopped();
        loop {
            if *stopped.borrow() {
                break;
            }
            let next = self.tick();
            let now = self.now();
            let sleep =
                next.map(|at| (at - now).to_std().unwrap_or(Duration::ZERO)).unwrap_or(MAX_SLEEP).min(MAX_SLEEP);
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.inner.wake.notified() => {}
                _ = stopped.changed() => {}
            }
        }
        tracing::debug!("scheduler stopped");
    }
}

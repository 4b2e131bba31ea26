//! Where the runtime reads the time: `SystemClock` (the product's one read
//! of the wall clock) or a `ManualClock` a test or simulation moves.

use std::sync::Mutex;
use tokentray_core::{Instant, Span};

/// Where the runtime reads the time. The core never reads a clock; the runtime
/// reads this one on every wake, so a suspend or a clock jump is just a new `now`.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Instant;
}

/// The wall clock: the product's one read of it (clippy.toml forbids the others).
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // This is the sanctioned read.
    fn now(&self) -> Instant {
        chrono::Utc::now()
    }
}

/// A clock that moves only when told: for simulations and tests of suspends
/// and clock jumps against real servers.
pub struct ManualClock(Mutex<Instant>);

impl ManualClock {
    pub fn new(start: Instant) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: Span) {
        *self.0.lock().expect("clock lock") += by;
    }

    pub fn set(&self, to: Instant) {
        *self.0.lock().expect("clock lock") = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().expect("clock lock")
    }
}

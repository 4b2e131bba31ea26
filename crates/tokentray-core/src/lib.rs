//! TokenTray's functional core: everything about a token's life that can be
//! decided without I/O.
//!
//! Every function here takes the current instant as an argument and never reads
//! a clock, sleeps, or touches the network, so a suspend, a resume or a wall-clock
//! jump is just a different `now`, and the tests run in microseconds. The
//! runtime's `Engine` (crate `tokentray-runtime`) feeds [`Event`]s in and
//! carries the [`Action`]s out.

mod backoff;
pub mod calendar;
mod countdown;
mod error_class;
pub mod expiry;
mod lifecycle;
mod notice;
pub mod provider;
mod quiet;
mod reminder;
mod status;
mod token;

pub use backoff::RetryPolicy;
pub use countdown::{format_countdown, Level, Thresholds};
pub use error_class::{ErrorClass, Failure};
pub use lifecycle::{Action, Event, Lifecycle, Policy, MIN_REFRESH_GAP};
pub use notice::{Notice, NoticeKind};
pub use provider::ProviderKind;
pub use quiet::{hold_until, silence_end, QuietHours, Stakes};
pub use reminder::{Reminder, ReminderPlan};
pub use status::{Standing, State, Status};
pub use token::{Refreshability, TokenMeta};

/// The one clock type of the project: an absolute instant in UTC.
pub type Instant = chrono::DateTime<chrono::Utc>;
/// A span of time, signed.
pub type Span = chrono::TimeDelta;

/// `at + span`, saturating at the ends of the calendar: a provider's absurd
/// lifetime must never panic the engine.
pub fn add_span(at: Instant, span: Span) -> Instant {
    at.checked_add_signed(span).unwrap_or(if span < Span::zero() { Instant::MIN_UTC } else { Instant::MAX_UTC })
}

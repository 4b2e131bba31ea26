//! What the user is told, and when: notices to the desktop (or the log),
//! `[[alert]]` channels, quiet hours and the snooze, the calendar's gaps,
//! and the history the window's timeline draws.

pub mod alerts;
mod calendar_gaps;
mod dispatch;
pub mod history;
mod notifier;
mod silence;

pub use notifier::{AccountName, LogNotifier, Notifier};
pub(crate) use silence::Silence;
pub use silence::{when, MAX_SNOOZE};

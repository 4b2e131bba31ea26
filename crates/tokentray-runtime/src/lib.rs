//! TokenTray's runtime: the imperative shell around `tokentray-core`.
//!
//! [`Engine`] owns every account's lifecycle and carries out what the core
//! decides: it sleeps until the next due action, refreshes and validates over
//! HTTP, stores tokens, notifies, and publishes [`EngineEvent`]s for the tray,
//! the local API and the CLI. Logins run through [`login`]; two processes never
//! refresh one account at once thanks to [`lock`]; [`watch`] applies config
//! edits and picks up tokens another process stored.

pub mod api;
mod browser;
mod clock;
pub mod demo;
mod engine;
mod error;
mod events;
pub mod ipc;
pub mod lock;
pub mod login;
mod notifier;
mod scheduler;
mod status;
pub mod summary;
pub mod watch;

pub use browser::{open_in_browser, BrowserError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Counters, Engine, EngineOptions};
pub use error::EngineError;
pub use events::{EngineEvent, EventKind};
pub use notifier::{LogNotifier, Notifier};
pub use status::{AccountStatus, SinkStatus};

//! TokenTray's runtime: the imperative shell around `tokentray-core`.
//!
//! [`Engine`] owns every account's lifecycle and carries out what the core
//! decides: it sleeps until the next due action, refreshes and validates over
//! HTTP, stores tokens, notifies, and publishes [`EngineEvent`]s for the tray,
//! the local API and the CLI. Logins run through [`login`]; two processes never
//! refresh one account at once thanks to [`lock`]; [`watch`] applies config
//! edits and picks up tokens another process stored.

mod adopt;
pub mod alerts;
pub mod api;
mod browser;
mod calendar_gaps;
mod check;
mod clock;
pub mod demo;
mod drain;
mod engine;
mod error;
mod event_log;
mod events;
pub mod history;
mod install;
pub mod ipc;
pub mod lock;
mod lockout;
pub mod login;
mod logout;
mod loopback;
mod notifier;
pub mod process;
mod reconfigure;
mod recover;
mod refresh;
mod scheduler;
mod shared;
pub use shared::SharedStatus;
mod silence;
mod slot;
mod status;
pub mod summary;
mod tokens;
pub mod watch;
mod window_view;

pub use browser::{open_in_browser, BrowserError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Engine, EngineOptions};
pub use error::{EngineError, Remedy};
pub use events::{EngineEvent, EventKind, Snapshot};
pub use notifier::{LogNotifier, Notifier};
pub use recover::Recovery;
pub use silence::{when, MAX_SNOOZE};
pub use slot::Counters;
pub use status::{AccountStatus, SinkStatus};
pub use window_view::{AccountView, EditFailure, Settings};

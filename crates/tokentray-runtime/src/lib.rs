//! TokenTray's runtime: the imperative shell around `tokentray-core`.
//!
//! [`Engine`] owns every account's lifecycle and carries out what the core
//! decides. Its code is grouped into rooms, each a folder:
//!
//! - `engine/`: the engine's state and what every room reaches it through
//!   (slots, the state file, events, the scheduler, config changes, file
//!   watching);
//! - `tokens/`: renewing and storing tokens;
//! - `shared/`: several machines on one Vault;
//! - `login/`: one-click logins (callback server, pasted addresses, the browser);
//! - `notices/`: what the user is told and when (notifier, alerts, quiet
//!   hours and the snooze, history);
//! - `surfaces/`: what other programs see (the local API, the control
//!   channel, the window's view, the tray's summary);
//! - `remote/`: servers followed and logged in from this desktop over SSH;
//! - `plumbing/`: file locks, the mutex helper, work in flight, the clock,
//!   process settings, loopbacks.

pub mod demo;
mod engine;
pub mod login;
mod notices;
mod plumbing;
pub mod remote;
mod shared;
mod surfaces;
mod tokens;

pub use engine::watch;
pub use engine::{AccountStatus, Counters, Engine, EngineError, EngineEvent, EngineOptions, EventKind, Remedy};
pub use engine::{RemoteMark, SinkStatus, Snapshot};
pub use login::browser::{open_in_browser, BrowserError};
pub use notices::{alerts, history};
pub use notices::{when, AccountName, LogNotifier, Notifier, MAX_SNOOZE};
pub use plumbing::clock::{Clock, ManualClock, SystemClock};
pub use plumbing::{process, process_tree};
pub use shared::SharedStatus;
pub use surfaces::{api, control, summary};
pub use surfaces::{AccountView, EditFailure, ProviderChoice, Settings};
pub use tokens::{Credential, IpCheck, Outcome, Readiness, Recovery};

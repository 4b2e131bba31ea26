//! What other programs see of the engine: the local HTTP API for scripts,
//! the control channel for the CLI and the window, the window's view of the
//! accounts, and the tray's summary. They use the engine's public methods
//! only.

pub mod api;
pub mod control;
pub mod summary;
mod window_view;

pub use window_view::{AccountView, EditFailure, ProviderChoice, Settings};

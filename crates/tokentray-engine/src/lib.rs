//! TokenTray's engine edges: everything that touches the outside world, each
//! behind a small surface so tests use real loopback servers, real files and
//! the real keyring.
//!
//! - [`config`]: the TOML file that lists accounts (no secrets).
//! - [`provider`]: the Kite, Upstox, Schwab and OAuth2 protocols over HTTP.
//! - [`store`]: secrets in the OS keyring (or an opted-in 0600 file), and the
//!   non-secret state file.
//! - [`paths`]: where the config and data live.
//!
//! The decisions (when to refresh, what to show) are `tokentray-core`'s.

pub mod atomic;
pub mod config;
pub mod config_edit;
mod duration;
pub mod paths;
pub mod provider;
mod random;
pub mod redirect_uri;
mod secret;
pub mod sinks;
pub mod store;

pub use secret::Secret;

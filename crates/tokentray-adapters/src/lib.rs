//! TokenTray's adapters: everything that touches the outside world, each
//! behind a small surface so tests use real loopback servers, real files and
//! the real keyring. They decide nothing: the decisions (when to refresh,
//! what to show) are `tokentray-core`'s, and `tokentray-runtime`'s `Engine`
//! is the one place that calls both.
//!
//! - [`config`], [`config_edit`]: the TOML file that lists accounts (no secrets).
//! - [`provider`]: the Kite, Upstox, Schwab and OAuth2 protocols over HTTP.
//! - [`store`]: secrets in the OS keyring (or an opted-in 0600 file), the
//!   grant journal, and the non-secret state file.
//! - [`sinks`]: the files the user's scripts read the token from.
//! - [`atomic`], [`paths`]: whole-file replacement; where the config and data live.

pub mod alert_config;
pub mod atomic;
pub mod calendar_file;
pub mod callback_tls;
pub mod config;
pub mod config_edit;
pub mod duration;
pub mod market_config;
pub mod paths;
pub mod provider;
mod random;
pub mod redirect_uri;
mod secret;
pub mod sinks;
pub mod store;
pub mod vault;
pub mod vault_config;

pub use secret::{same_in_constant_time, Secret};

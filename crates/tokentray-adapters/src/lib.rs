//! TokenTray's adapters: everything that touches the outside world, each
//! behind a small surface so tests use real loopback servers, real files and
//! the real keyring. The decisions about a token's life (when to refresh,
//! what to show) are `tokentray-core`'s; what is decided here is how to
//! read and check the config (its defaults come from the core's provider
//! descriptions), how each protocol speaks, and how files are written.
//!
//! - [`config`]: the TOML file that lists accounts (no secrets), a resolver
//!   per section, and the window's edits to it.
//! - [`provider`]: each broker's protocol over HTTP.
//! - [`store`]: secrets in the OS keyring (or an opted-in 0600 file), the
//!   grant journal, and the non-secret state file.
//! - [`vault`]: Vault or OpenBao as the store several machines share.
//! - [`sinks`]: the files the user's scripts read the token from.
//! - [`egress`]: the address this machine's requests leave from (`tokentray ready`).
//! - [`atomic`], [`paths`]: whole-file replacement; where the config and data live.

pub mod atomic;
mod bounded;
pub mod callback_tls;
pub mod config;
pub mod duration;
pub mod egress;
pub mod os;
pub mod paths;
mod position;
pub mod provider;
mod random;
pub mod redirect_uri;
mod secret;
pub mod sinks;
pub mod store;
mod token_set;
pub mod vault;

pub use secret::{same_in_constant_time, Secret};

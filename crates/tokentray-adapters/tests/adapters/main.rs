//! tokentray-adapters' tests against real parts: each provider's protocol
//! against the sandbox on loopback, the config, the stores (the real keyring,
//! real files, a real OpenBao), sinks, and parsers fed any bytes at all.
//! One binary, one module per subject.

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

mod angelone;
mod breeze;
mod common;
mod config;
mod config_edit;
mod dhan;
mod etrade;
mod fyers;
mod ibkr;
mod oauth2;
mod parsers;
mod provider_failures;
mod providers;
mod sinks;
#[cfg(windows)]
mod sinks_windows;
mod stores;
mod tastytrade;
mod upstox_read_only;
// Built for Linux only: it runs OpenBao, whose `bao` binary here is Linux's.
#[cfg(unix)]
mod vault;

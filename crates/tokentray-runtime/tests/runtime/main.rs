//! tokentray-runtime's tests: the engine over real files, the real keyring or a
//! plaintext store, and the sandbox broker on loopback; its surfaces (the
//! local API, the control channel) tried as scripts and attackers would.
//! One binary, one module per subject.

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

// Built for Unix only: its command alerts are shell scripts (the tree a
// timeout ends is tested on both systems in `process_tree`'s own tests).
#[cfg(unix)]
mod alerts;
mod api;
mod api_bounds;
mod brokers;
mod common;
// Built for Unix only: it talks to the socket file itself (stale files,
// raw connections); the named pipe is exercised through the same public
// calls by every other test here.
#[cfg(unix)]
mod control_socket;
mod engine;
mod login;
mod market_day;
mod parsers;
mod trust;

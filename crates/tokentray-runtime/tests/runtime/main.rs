//! tokentray-runtime's tests: the engine over real files, the real keyring or a
//! plaintext store, and the sandbox broker on loopback; its surfaces (the
//! local API, the control channel) tried as scripts and attackers would.
//! One binary, one module per subject.

mod alerts;
mod api;
mod api_bounds;
mod brokers;
mod common;
mod control_socket;
mod engine;
mod login;
mod market_day;
mod parsers;
mod trust;

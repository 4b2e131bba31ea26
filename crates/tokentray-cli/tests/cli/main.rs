//! The `tokentray` binary as a user runs it: commands, the daemon, `exec`,
//! several machines on one OpenBao. One binary, one module per subject.

mod brokers;
mod common;
mod daemon;
mod e2e;
mod handoff;
mod one_truth;
mod packaging;
mod secret;
mod vault;

//! The `tokentray` binary as a user runs it: commands, the daemon, `exec`,
//! several machines on one OpenBao. One binary, one module per subject.

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]
// Built for Unix only: these drive the binary as a Linux user and their
// scripts do ($BROWSER=curl as the browser, kill -TERM, python3 and bash
// bots). tokentray.exe's own end-to-end run under Wine is `windows_e2e`,
// driven from Linux by scripts/test-windows.sh.
#![cfg(unix)]

mod brokers;
mod common;
mod daemon;
mod demo;
mod e2e;
mod handoff;
mod one_truth;
mod own_page_logins;
mod ready;
mod remote;
// Built for Linux only: it builds and reads the .deb and .rpm.
#[cfg(unix)]
mod packaging;
mod secret;
// Built for Linux only: they run OpenBao, whose `bao` binary here is Linux's.
#[cfg(unix)]
mod vault;
#[cfg(unix)]
mod vault_takeover;
mod windows_e2e;

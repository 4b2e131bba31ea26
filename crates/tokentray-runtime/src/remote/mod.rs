//! Servers followed from this desktop over SSH. Since April 2026 Indian
//! brokers take API orders only from a registered static IP, so the bots
//! and the token live on a server while the daily browser login happens
//! here. The server's TokenTray keeps its tokens as ever; this desktop
//! shows its accounts, tells its notices, and logs in for it: the server
//! makes the login's URL and exchange, this machine only opens the browser
//! and carries the redirect.
//!
//! - `wire.rs`: the protocol (the control channel's lines in numbered
//!   envelopes, a hello with its version) and what a desktop may ask;
//! - `serve.rs`: the server's end, `tokentray remote-serve`;
//! - `ssh.rs`: the system's OpenSSH client and what its failures mean;
//! - `link.rs`: the desktop's session, several calls at once;
//! - `login.rs`: a server's login from here; `relay.rs`: catching its redirect;
//! - `route.rs`: a request about a server's account, made here;
//! - `board.rs`: what is known of each server; `follow.rs`: following them;
//! - `error.rs`: `RemoteError`, each with what fixes it.

mod board;
mod error;
mod follow;
mod link;
mod login;
mod relay;
mod route;
mod serve;
mod ssh;
mod wire;

pub use board::{shown_alone, Board, ServerView};
pub use error::RemoteError;
pub(crate) use follow::Followers;
pub use link::Link;
pub use login::log_in;
pub use route::{ask_account, fetch_token, ready_there, AccountCall, Route};
pub use serve::{serve, serve_stdio, ServeRemoteError};

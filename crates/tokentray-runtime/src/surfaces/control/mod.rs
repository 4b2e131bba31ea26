//! The control channel: a running tray or daemon serves it, and the CLI,
//! a second launch of the tray and the window process talk to its engine
//! through it, instead of starting a second engine beside it.
//!
//! - `protocol.rs`: the wire, each request paired with its reply type;
//! - `server.rs`: serving it, each request carried onto the engine;
//! - `client.rs`: asking, with errors that tell "nothing runs" from "it went away";
//! - `remote_calls.rs`: requests about a server's account, carried to it;
//! - `values.rs`: values requests and replies carry;
//! - `lines.rs`: reading lines at either end, each bounded, safe beside other waits;
//! - `doorbell.rs`: the one window's, over the same seam;
//! - `transport/`: the seam where the OS's local socket lives.

mod client;
pub mod doorbell;
mod lines;
mod protocol;
mod remote_calls;
mod server;
mod transport;
mod values;

pub(crate) use client::Session;
pub use client::{ask, follow_changes, is_running, log_in, wait_until_stopped, ClientError};
pub use lines::{LineError, LineReader};
pub(crate) use protocol::line;
pub use protocol::{
    call, AccountSecret, Answer, Call, HandedToken, LoginProgress, NoticeLine, PasteLine, Refusal, Request, Shown,
    MAX_ANSWER, MAX_LINE,
};
pub use server::{claim, serve, serve_claimed, Claimed, Host, ServeError};

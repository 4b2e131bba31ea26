//! Renewing and storing tokens: the secrets a renewal reads, single-flight
//! renewal and checks, a new grant made durable and served, what another
//! process stored, logout, the refused-credentials count, and start-up
//! recovery. Each file is an `impl Engine` over the engine's accessors.

mod adopt;
mod check;
mod install;
pub(crate) mod lockout;
mod logout;
pub mod ready;
mod recover;
mod refresh;
mod secrets;

pub use lockout::Credential;
pub use ready::{IpCheck, Outcome, Readiness};
pub use recover::Recovery;

//! The plumbing every room uses and none decides with: file locks between
//! processes, the mutex helper, work in flight a stop waits for, the clock,
//! what a process sets about itself, the trees of programs it starts, and
//! the loopback addresses.

pub(crate) mod clock;
pub(crate) mod drain;
pub mod file_lock;
pub(crate) mod loopback;
pub(crate) mod mutex;
pub mod process;
pub mod process_tree;

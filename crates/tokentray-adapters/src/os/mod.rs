//! The seam for what files are on each OS: who may read them, how one is
//! replaced, whether a process still runs. `atomic.rs` and the rest are
//! portable and ask here; each OS's half is built for that OS alone.
//!
//! - Unix: modes (0600 files, 0700 directories), the group an existing
//!   file had, `rename(2)` and an fsync of the directory.
//! - Windows: a protected access list that grants this user alone (a mode
//!   means nothing there); a rename with POSIX semantics (else
//!   `MoveFileExW`), retried while a reader holds the file without delete
//!   sharing (Python does), then reported with the old content whole.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
pub mod windows;
#[cfg(windows)]
use windows as imp;

/// Whether `pid` names a running process (where the system gives no cheap
/// way to ask, as on Unix without `/proc`: yes, so nothing is removed).
pub use imp::process_is_running;
pub(crate) use imp::{
    existing_file, keep_what_was, open_new_private, open_private_options, owned_by_us_or_root, private_dir_options,
    read_options, replace, sync_dir_of, tighten_private_dir,
};

/// How long a replacement waits, in all, for readers to let go of the file
/// before it reports the file as locked (the old content stays whole).
pub const REPLACE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

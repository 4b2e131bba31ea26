//! The one way the runtime takes a `std::sync::Mutex`.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, also after a thread panicked while holding it: every critical
/// section here leaves the data whole, and one bad request must not take the
/// engine down for everyone.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

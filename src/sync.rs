//! Locking shared in-memory state.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering it if a thread panicked while holding it.
///
/// Every critical section in this crate is a single map or cache operation that leaves the data
/// consistent, so a panic elsewhere is no reason to fail every later request.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

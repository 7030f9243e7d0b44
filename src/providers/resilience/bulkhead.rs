//! Bulkhead: a cap on calls in flight to one provider.
//!
//! When a provider slows down, callers pile up waiting on it; the cap keeps
//! that pile from consuming every connection and task of the service. A
//! full bulkhead refuses at once instead of queueing, because a queue in
//! front of a slow provider only converts latency into more latency.

use tokio::sync::{Semaphore, SemaphorePermit};

/// Concurrency cap of one provider.
#[derive(Debug)]
pub(crate) struct Bulkhead {
    slots: Semaphore,
}

impl Bulkhead {
    /// A bulkhead admitting `max_concurrent` calls at once (validated to be
    /// at least 1 and far below the semaphore's limit).
    pub(crate) fn new(max_concurrent: u32) -> Self {
        Self {
            slots: Semaphore::new(max_concurrent as usize),
        }
    }

    /// Takes a slot for the duration of the returned guard, if one is free.
    pub(crate) fn try_enter(&self) -> Option<SemaphorePermit<'_>> {
        self.slots.try_acquire().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_beyond_the_cap_and_frees_on_drop() {
        let bulkhead = Bulkhead::new(2);
        let first = bulkhead.try_enter().expect("slot 1");
        let _second = bulkhead.try_enter().expect("slot 2");
        assert!(bulkhead.try_enter().is_none());
        drop(first);
        assert!(bulkhead.try_enter().is_some());
    }
}

//! Counts of batched reads, per kind: how DataLoaders are seen to batch (one read per batch,
//! whatever the number of parents), and a cheap signal of N+1 regressions.

use std::sync::atomic::{AtomicU64, Ordering};

/// Batched reads a store has executed since it was opened; each is one SQL statement.
#[derive(Debug, Default)]
pub struct BatchReads {
    users: AtomicU64,
    identities: AtomicU64,
    refunds: AtomicU64,
    payments: AtomicU64,
}

/// Which batched read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchRead {
    /// `users_by_ids`.
    Users,
    /// `identities_of`.
    Identities,
    /// `refunds_of`.
    Refunds,
    /// `payments_by_ids`.
    Payments,
}

impl BatchReads {
    fn counter(&self, read: BatchRead) -> &AtomicU64 {
        match read {
            BatchRead::Users => &self.users,
            BatchRead::Identities => &self.identities,
            BatchRead::Refunds => &self.refunds,
            BatchRead::Payments => &self.payments,
        }
    }

    /// Records one executed batch read.
    pub fn record(&self, read: BatchRead) {
        self.counter(read).fetch_add(1, Ordering::Relaxed);
    }

    /// How many reads of this kind ran so far.
    pub fn count(&self, read: BatchRead) -> u64 {
        self.counter(read).load(Ordering::Relaxed)
    }
}

//! The webhook inbox.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{InboxEvent, InboxStats, InboxStatus, NewInboxEvent, StoreError};

/// Persistence of verified provider events until they are applied.
#[async_trait]
pub trait WebhookRepo {
    /// Stores an event; `false` when an event with that id is already there (a duplicate).
    async fn insert_inbox_event(
        &self,
        event: &NewInboxEvent,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Claims up to `limit` due events for `lease`, oldest first. On PostgreSQL concurrent
    /// processors skip each other's rows (`FOR UPDATE SKIP LOCKED`); a crashed processor's
    /// claims expire with the lease unless renewed.
    async fn claim_due_events(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<InboxEvent>, StoreError>;

    /// Extends the claim on events this processor is still working on.
    async fn renew_inbox_claims(
        &self,
        seqs: &[i64],
        until: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// When the next pending event becomes due or its claim runs out, if any is pending.
    async fn next_inbox_wakeup(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Marks an event applied, ignored or dead (with `error`), releasing its claim.
    async fn finish_inbox_event(
        &self,
        seq: i64,
        status: InboxStatus,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records a failed attempt and when to try again.
    async fn retry_inbox_event(
        &self,
        seq: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Puts an event back in line (admin replay); `false` when no such event exists.
    async fn requeue_inbox_event(
        &self,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// One event by its provider id.
    async fn inbox_event(&self, event_id: &str) -> Result<Option<InboxEvent>, StoreError>;

    /// Pending and dead counts and the arrival of the oldest pending event.
    async fn inbox_stats(&self) -> Result<InboxStats, StoreError>;
}

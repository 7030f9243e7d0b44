//! The webhook inbox: verified provider events, kept until they are applied.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Executor, FromRow, QueryBuilder};

use super::dialect::{Dialect, SqlStore, push_list};
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

const INSERT_EVENT: &str = "INSERT INTO webhook_inbox \
     (event_id, event_type, payload, source, received_at, next_attempt_at) \
     VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (event_id) DO NOTHING";
const FINISH_EVENT: &str = "UPDATE webhook_inbox \
     SET status = $2, last_error = COALESCE($3, last_error), processed_at = $4, locked_until = NULL \
     WHERE seq = $1";
const RETRY_EVENT: &str = "UPDATE webhook_inbox \
     SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, locked_until = NULL \
     WHERE seq = $1";
const REQUEUE_EVENT: &str = "UPDATE webhook_inbox \
     SET status = 'pending', attempts = 0, next_attempt_at = $2, locked_until = NULL, \
     processed_at = NULL WHERE event_id = $1";
const RENEW_CLAIMS: &str = "UPDATE webhook_inbox SET locked_until = ";
const NEXT_WAKEUP: &str = "SELECT MIN(CASE WHEN locked_until IS NOT NULL \
     AND locked_until > next_attempt_at THEN locked_until ELSE next_attempt_at END) \
     FROM webhook_inbox WHERE status = 'pending'";
const EVENT: &str = "SELECT * FROM webhook_inbox WHERE event_id = $1";
// Each part reads only the rows of one status through the (status, ...) index.
const STATS: &str = "SELECT \
     (SELECT COUNT(*) FROM webhook_inbox WHERE status = 'pending') AS pending, \
     (SELECT COUNT(*) FROM webhook_inbox WHERE status = 'dead') AS dead, \
     (SELECT MIN(received_at) FROM webhook_inbox WHERE status = 'pending') \
     AS oldest_pending_received_at";

#[async_trait]
impl<DB> WebhookRepo for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> InboxStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> InboxEvent: FromRow<'r, DB::Row>,
    for<'r> InboxStats: FromRow<'r, DB::Row>,
    for<'r> (Option<DateTime<Utc>>,): FromRow<'r, DB::Row>,
{
    async fn insert_inbox_event(
        &self,
        event: &NewInboxEvent,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(INSERT_EVENT)
            .bind(event.event_id.as_str())
            .bind(event.event_type.as_str())
            .bind(event.payload.as_str())
            .bind(event.source.as_str())
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn claim_due_events(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let mut events: Vec<InboxEvent> = sqlx::query_as(DB::CLAIM_DUE_EVENTS)
            .bind(now + lease)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        events.sort_by_key(|e| e.seq);
        Ok(events)
    }

    async fn renew_inbox_claims(
        &self,
        seqs: &[i64],
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let mut query = QueryBuilder::<DB>::new(RENEW_CLAIMS);
        query.push_bind(until);
        query.push(" WHERE status = 'pending' AND seq IN ");
        push_list(&mut query, seqs.iter().copied());
        query.build().execute(&self.pool).await?;
        Ok(())
    }

    async fn next_inbox_wakeup(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(sqlx::query_scalar(NEXT_WAKEUP)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn finish_inbox_event(
        &self,
        seq: i64,
        status: InboxStatus,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(FINISH_EVENT)
            .bind(seq)
            .bind(status)
            .bind(error)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retry_inbox_event(
        &self,
        seq: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(RETRY_EVENT)
            .bind(seq)
            .bind(error)
            .bind(next_attempt_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn requeue_inbox_event(
        &self,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(REQUEUE_EVENT)
            .bind(event_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn inbox_event(&self, event_id: &str) -> Result<Option<InboxEvent>, StoreError> {
        Ok(sqlx::query_as(EVENT)
            .bind(event_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn inbox_stats(&self) -> Result<InboxStats, StoreError> {
        Ok(sqlx::query_as(STATS).fetch_one(&self.pool).await?)
    }
}

//! The ordered history of payment changes: appending under the log's lock, and reading it.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Executor, FromRow, QueryBuilder};
use uuid::Uuid;

use super::dialect::{Dialect, SqlStore, push_ids};
use super::{
    EventPage, EventScope, LoggedEvent, NOTICE_CHANNEL, NewPaymentEvent, Notice, PaymentEventRow,
    StoreError, encode_notices,
};
use crate::domain::{PaymentEventKind, PaymentStatus};

/// Appending to and reading the payment event log.
#[async_trait]
pub trait PaymentEventRepo {
    /// Appends an event, occurring at `now`, with the payment's next sequence number. Appends
    /// are serialised, so events become visible in cursor order (see
    /// docs/decisions/0009-event-log-visibility.md).
    async fn append_payment_event(
        &self,
        event: &NewPaymentEvent,
        now: DateTime<Utc>,
    ) -> Result<LoggedEvent, StoreError>;

    /// Events in `scope` with a cursor above `after`, oldest first, at most `limit`.
    async fn payment_events_after(
        &self,
        scope: EventScope,
        after: i64,
        limit: i64,
    ) -> Result<Vec<PaymentEventRow>, StoreError>;

    /// Like [`PaymentEventRepo::payment_events_after`], with the log's horizon read first: what a
    /// live feed needs to know which later notices follow on without a gap.
    async fn payment_events_page(
        &self,
        scope: EventScope,
        after: i64,
        limit: i64,
    ) -> Result<EventPage, StoreError>;

    /// The newest event of a payment: its current state.
    async fn latest_payment_event(
        &self,
        payment_id: Uuid,
    ) -> Result<Option<PaymentEventRow>, StoreError>;

    /// The cursor of a user's newest event (0 when there is none).
    async fn latest_user_cursor(&self, user_id: Uuid) -> Result<i64, StoreError>;
}

const LAST_SEQUENCES: &str =
    "SELECT payment_id, MAX(sequence) FROM payment_events WHERE payment_id IN ";
const INSERT_PAYMENT_EVENTS: &str = "INSERT INTO payment_events \
     (payment_id, user_id, sequence, kind, status, amount_refunded, source_event_id, occurred_at) ";
const PREVIOUS_CURSOR: &str =
    "SELECT COALESCE(MAX(cursor), 0) FROM payment_events WHERE cursor < $1";
const LOG_HORIZON: &str = "SELECT COALESCE(MAX(cursor), 0) FROM payment_events";
const EVENTS_OF_PAYMENT: &str = "SELECT * FROM payment_events \
     WHERE payment_id = $1 AND cursor > $2 ORDER BY cursor LIMIT $3";
// Subscription events share the log (decision 0010); a user's payment events leave them out.
const EVENTS_OF_USER: &str = "SELECT * FROM payment_events \
     WHERE user_id = $1 AND subject = 'payment' AND cursor > $2 ORDER BY cursor LIMIT $3";
const LATEST_EVENT_OF_PAYMENT: &str =
    "SELECT * FROM payment_events WHERE payment_id = $1 ORDER BY cursor DESC LIMIT 1";
const LATEST_CURSOR_OF_USER: &str =
    "SELECT COALESCE(MAX(cursor), 0) FROM payment_events WHERE user_id = $1";
const NOTIFY: &str = "SELECT pg_notify($1, $2)";

#[async_trait]
impl<DB> PaymentEventRepo for SqlStore<DB>
where
    DB: EventLog,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> PaymentEventRow: FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
{
    async fn append_payment_event(
        &self,
        event: &NewPaymentEvent,
        now: DateTime<Utc>,
    ) -> Result<LoggedEvent, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut logged = DB::append_events(&mut *tx, std::slice::from_ref(event), now).await?;
        tx.commit().await?;
        Ok(logged.remove(0))
    }

    async fn payment_events_after(
        &self,
        scope: EventScope,
        after: i64,
        limit: i64,
    ) -> Result<Vec<PaymentEventRow>, StoreError> {
        let (sql, id) = match scope {
            EventScope::Payment(id) => (EVENTS_OF_PAYMENT, id),
            EventScope::User(id) => (EVENTS_OF_USER, id),
        };
        Ok(sqlx::query_as(sql)
            .bind(id)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn payment_events_page(
        &self,
        scope: EventScope,
        after: i64,
        limit: i64,
    ) -> Result<EventPage, StoreError> {
        // The horizon first: everything at or below it has committed, so the read that follows
        // sees all of it.
        let horizon = sqlx::query_scalar(LOG_HORIZON)
            .fetch_one(&self.pool)
            .await?;
        let events = self.payment_events_after(scope, after, limit).await?;
        Ok(EventPage { horizon, events })
    }

    async fn latest_payment_event(
        &self,
        payment_id: Uuid,
    ) -> Result<Option<PaymentEventRow>, StoreError> {
        Ok(sqlx::query_as(LATEST_EVENT_OF_PAYMENT)
            .bind(payment_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn latest_user_cursor(&self, user_id: Uuid) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(LATEST_CURSOR_OF_USER)
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?)
    }
}

/// Appending to the log inside a caller's transaction: what every repository that changes a
/// payment shares. Implemented for each backend that binds and reads what it needs.
pub(super) trait EventLog: Dialect {
    /// Appends `events`, occurring at `now`, in order inside the caller's transaction, after
    /// taking the log's append lock: it is held until that transaction ends, so events commit in
    /// cursor order and no reader can see a later cursor while an earlier one may still appear.
    fn append_events<'c>(
        conn: &'c mut Self::Connection,
        events: &'c [NewPaymentEvent],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<LoggedEvent>, StoreError>> + Send + 'c;
}

impl<DB> EventLog for DB
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> PaymentStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> PaymentEventKind: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> PaymentEventRow: FromRow<'r, DB::Row>,
    for<'r> (Uuid, i32): FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
{
    async fn append_events<'c>(
        conn: &'c mut DB::Connection,
        events: &'c [NewPaymentEvent],
        now: DateTime<Utc>,
    ) -> Result<Vec<LoggedEvent>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query(DB::APPEND_LOCK).execute(&mut *conn).await?;
        // Each payment's next sequence numbers, read under the lock.
        let mut payments: Vec<Uuid> = events.iter().map(|e| e.payment_id).collect();
        payments.sort_unstable();
        payments.dedup();
        let mut last_sequences = QueryBuilder::<DB>::new(LAST_SEQUENCES);
        push_ids(&mut last_sequences, &payments);
        last_sequences.push(" GROUP BY payment_id");
        let mut sequence: HashMap<Uuid, i32> = last_sequences
            .build_query_as::<(Uuid, i32)>()
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
        let mut insert = QueryBuilder::<DB>::new(INSERT_PAYMENT_EVENTS);
        insert.push_values(events, |mut row, event| {
            let next = sequence.entry(event.payment_id).or_insert(0);
            *next += 1;
            row.push_bind(event.payment_id)
                .push_bind(event.user_id)
                .push_bind(*next)
                .push_bind(event.kind.clone())
                .push_bind(event.status)
                .push_bind(event.amount_refunded)
                .push_bind(event.source_event_id.clone())
                .push_bind(now);
        });
        insert.push(" RETURNING *");
        let mut rows: Vec<PaymentEventRow> = insert.build_query_as().fetch_all(&mut *conn).await?;
        // Cursors were drawn in the order of the rows given.
        rows.sort_by_key(|row| row.cursor);
        let mut previous: i64 = sqlx::query_scalar(PREVIOUS_CURSOR)
            .bind(rows[0].cursor)
            .fetch_one(&mut *conn)
            .await?;
        let logged: Vec<LoggedEvent> = rows
            .into_iter()
            .map(|event| {
                let logged = LoggedEvent { previous, event };
                previous = logged.event.cursor;
                logged
            })
            .collect();
        if DB::NOTIFIES {
            // Sent at commit, in commit order: listeners hear the log in cursor order.
            let notices: Vec<_> = logged.iter().map(Notice::from).collect();
            for payload in encode_notices(&notices) {
                sqlx::query(NOTIFY)
                    .bind(NOTICE_CHANNEL)
                    .bind(payload)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Ok(logged)
    }
}

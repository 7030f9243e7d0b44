//! Payments: recording them with their first event, and reading them back.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Executor, FromRow, QueryBuilder};
use uuid::Uuid;

use super::dialect::{SqlStore, push_ids, push_list};
use super::payment_events::EventLog;
use super::{BatchRead, LoggedEvent, NewPaymentEvent, PaymentRow, StoreError};
use crate::domain::{Metadata, PaymentEventKind, PaymentStatus};

/// Persistence of payments.
#[async_trait]
pub trait PaymentRepo {
    /// Records a new payment and its first event (occurring at the payment's `created_at`),
    /// atomically.
    async fn insert_payment(&self, payment: &PaymentRow) -> Result<LoggedEvent, StoreError>;

    /// Finds a payment by our id.
    async fn payment_by_id(&self, id: Uuid) -> Result<Option<PaymentRow>, StoreError>;

    /// Finds many payments at once (for DataLoaders); unknown ids are simply absent.
    async fn payments_by_ids(&self, ids: &[Uuid]) -> Result<Vec<PaymentRow>, StoreError>;

    /// Finds a payment by the provider's id.
    async fn payment_by_provider_id(
        &self,
        provider_payment_id: &str,
    ) -> Result<Option<PaymentRow>, StoreError>;

    /// Finds many payments by the provider's ids (one query); unknown ids are simply absent.
    async fn payments_by_provider_ids(&self, ids: &[String])
    -> Result<Vec<PaymentRow>, StoreError>;

    /// A user's payments, newest first, with ids below `before` when given; optionally only one status.
    async fn payments_of_user(
        &self,
        user_id: Uuid,
        status: Option<PaymentStatus>,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, StoreError>;

    /// A user's payments oldest first, with ids above `after` when given; optionally only one
    /// status (for paging backwards through the newest-first list).
    async fn payments_of_user_ascending(
        &self,
        user_id: Uuid,
        status: Option<PaymentStatus>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, StoreError>;

    /// How many payments a user has, optionally only of one status.
    async fn count_payments_of_user(
        &self,
        user_id: Uuid,
        status: Option<PaymentStatus>,
    ) -> Result<i64, StoreError>;
}

const INSERT_PAYMENT: &str = "INSERT INTO payments (id, user_id, provider, provider_payment_id, \
     status, amount, currency, amount_refunded, description, metadata, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
const PAYMENT_BY_ID: &str = "SELECT * FROM payments WHERE id = $1";
const PAYMENTS_BY_IDS: &str = "SELECT * FROM payments WHERE id IN ";
const PAYMENT_BY_PROVIDER_ID: &str = "SELECT * FROM payments WHERE provider_payment_id = $1";
const PAYMENTS_BY_PROVIDER_IDS: &str = "SELECT * FROM payments WHERE provider_payment_id IN ";
const PAYMENTS_OF_USER: &str = "SELECT * FROM payments WHERE user_id = $1 \
     AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4";
const PAYMENTS_OF_USER_ASCENDING: &str = "SELECT * FROM payments WHERE user_id = $1 \
     AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR id > $3) ORDER BY id ASC LIMIT $4";
const COUNT_PAYMENTS_OF_USER: &str = "SELECT COUNT(*) FROM payments WHERE user_id = $1 \
     AND ($2 IS NULL OR status = $2)";

#[async_trait]
impl<DB> PaymentRepo for SqlStore<DB>
where
    DB: EventLog,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<Uuid>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> PaymentStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<PaymentStatus>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Metadata: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> PaymentRow: FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
{
    async fn insert_payment(&self, p: &PaymentRow) -> Result<LoggedEvent, StoreError> {
        let mut tx = self.pool.begin().await?;
        let logged = insert_payment_in::<DB>(&mut *tx, p).await?;
        tx.commit().await?;
        Ok(logged)
    }

    async fn payment_by_id(&self, id: Uuid) -> Result<Option<PaymentRow>, StoreError> {
        Ok(sqlx::query_as(PAYMENT_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn payments_by_ids(&self, ids: &[Uuid]) -> Result<Vec<PaymentRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.batch_reads.record(BatchRead::Payments);
        let mut query = QueryBuilder::<DB>::new(PAYMENTS_BY_IDS);
        push_ids(&mut query, ids);
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn payment_by_provider_id(
        &self,
        provider_payment_id: &str,
    ) -> Result<Option<PaymentRow>, StoreError> {
        Ok(sqlx::query_as(PAYMENT_BY_PROVIDER_ID)
            .bind(provider_payment_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn payments_by_provider_ids(
        &self,
        ids: &[String],
    ) -> Result<Vec<PaymentRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<DB>::new(PAYMENTS_BY_PROVIDER_IDS);
        push_list(&mut query, ids.iter().cloned());
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn payments_of_user(
        &self,
        user_id: Uuid,
        status: Option<PaymentStatus>,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        Ok(sqlx::query_as(PAYMENTS_OF_USER)
            .bind(user_id)
            .bind(status)
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn payments_of_user_ascending(
        &self,
        user_id: Uuid,
        status: Option<PaymentStatus>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        Ok(sqlx::query_as(PAYMENTS_OF_USER_ASCENDING)
            .bind(user_id)
            .bind(status)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn count_payments_of_user(
        &self,
        user_id: Uuid,
        status: Option<PaymentStatus>,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(COUNT_PAYMENTS_OF_USER)
            .bind(user_id)
            .bind(status)
            .fetch_one(&self.pool)
            .await?)
    }
}

/// Inserts a payment and its first event (occurring at its `created_at`) on `conn`, inside the
/// caller's transaction.
pub(super) async fn insert_payment_in<DB>(
    conn: &mut DB::Connection,
    p: &PaymentRow,
) -> Result<LoggedEvent, StoreError>
where
    DB: EventLog,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> PaymentStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Metadata: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(INSERT_PAYMENT)
        .bind(p.id)
        .bind(p.user_id)
        .bind(p.provider.as_str())
        .bind(p.provider_payment_id.as_str())
        .bind(p.status)
        .bind(p.amount)
        .bind(p.currency.as_str())
        .bind(p.amount_refunded)
        .bind(p.description.clone())
        .bind(p.metadata.clone())
        .bind(p.created_at)
        .bind(p.updated_at)
        .execute(&mut *conn)
        .await?;
    let event = NewPaymentEvent {
        payment_id: p.id,
        user_id: p.user_id,
        kind: PaymentEventKind::Created,
        status: p.status,
        amount_refunded: p.amount_refunded,
        source_event_id: None,
    };
    let mut logged = DB::append_events(&mut *conn, &[event], p.created_at).await?;
    Ok(logged.remove(0))
}

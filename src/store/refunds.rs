//! Refunds, and the provider customer recorded for each user.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Executor, FromRow, QueryBuilder};
use uuid::Uuid;

use super::dialect::{Dialect, SqlStore, push_ids};
use super::{BatchRead, RefundRow, StoreError};
use crate::domain::RefundStatus;

/// Persistence of refunds and of the provider's customer per user.
#[async_trait]
pub trait RefundRepo {
    /// Finds a refund by our id.
    async fn refund_by_id(&self, id: Uuid) -> Result<Option<RefundRow>, StoreError>;

    /// Records a refund.
    async fn insert_refund(&self, refund: &RefundRow) -> Result<(), StoreError>;

    /// Refunds of many payments (for DataLoaders), oldest first.
    async fn refunds_of(&self, payment_ids: &[Uuid]) -> Result<Vec<RefundRow>, StoreError>;

    /// The provider's customer id for a user, if one was recorded.
    async fn payment_customer(
        &self,
        user_id: Uuid,
        provider: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Records a user's customer id at `now`; the first one recorded wins and is returned.
    async fn save_payment_customer(
        &self,
        user_id: Uuid,
        provider: &str,
        customer_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError>;
}

const REFUND_BY_ID: &str = "SELECT * FROM refunds WHERE id = $1";
const INSERT_REFUND: &str = "INSERT INTO refunds \
     (id, payment_id, provider_refund_id, amount, status, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";
const REFUNDS_OF: &str = "SELECT * FROM refunds WHERE payment_id IN ";
const REFUNDS_ORDER: &str = " ORDER BY payment_id, created_at, id";
const PAYMENT_CUSTOMER: &str =
    "SELECT customer_id FROM payment_customers WHERE user_id = $1 AND provider = $2";
const SAVE_PAYMENT_CUSTOMER: &str = "INSERT INTO payment_customers \
     (user_id, provider, customer_id, created_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (user_id, provider) DO NOTHING";

#[async_trait]
impl<DB> RefundRepo for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> RefundStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> RefundRow: FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    async fn refund_by_id(&self, id: Uuid) -> Result<Option<RefundRow>, StoreError> {
        Ok(sqlx::query_as(REFUND_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn insert_refund(&self, r: &RefundRow) -> Result<(), StoreError> {
        sqlx::query(INSERT_REFUND)
            .bind(r.id)
            .bind(r.payment_id)
            .bind(r.provider_refund_id.as_str())
            .bind(r.amount)
            .bind(r.status.clone())
            .bind(r.created_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn refunds_of(&self, payment_ids: &[Uuid]) -> Result<Vec<RefundRow>, StoreError> {
        if payment_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.batch_reads.record(BatchRead::Refunds);
        let mut query = QueryBuilder::<DB>::new(REFUNDS_OF);
        push_ids(&mut query, payment_ids);
        query.push(REFUNDS_ORDER);
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn payment_customer(
        &self,
        user_id: Uuid,
        provider: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(PAYMENT_CUSTOMER)
            .bind(user_id)
            .bind(provider)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn save_payment_customer(
        &self,
        user_id: Uuid,
        provider: &str,
        customer_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        sqlx::query(SAVE_PAYMENT_CUSTOMER)
            .bind(user_id)
            .bind(provider)
            .bind(customer_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(sqlx::query_scalar(PAYMENT_CUSTOMER)
            .bind(user_id)
            .bind(provider)
            .fetch_one(&self.pool)
            .await?)
    }
}

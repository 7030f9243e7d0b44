//! The trace context each payment was created in (see docs/decisions/0018-traces.md).

use async_trait::async_trait;
use sqlx::{Executor, FromRow, QueryBuilder};
use uuid::Uuid;

use super::StoreError;
use super::dialect::{Dialect, SqlStore, push_list};

/// Remembering which trace created a payment.
#[async_trait]
pub trait TraceRepo {
    /// Records the W3C `traceparent` of the request that created `payment_id` (once; a second
    /// call keeps the first).
    async fn save_payment_trace(
        &self,
        payment_id: Uuid,
        traceparent: &str,
    ) -> Result<(), StoreError>;

    /// The `traceparent`s recorded for the payments with these provider ids, as
    /// `(provider_payment_id, traceparent)` pairs; payments without one are left out.
    async fn payment_traces_by_provider_ids(
        &self,
        provider_payment_ids: &[String],
    ) -> Result<Vec<(String, String)>, StoreError>;
}

const SAVE_PAYMENT_TRACE: &str = "INSERT INTO payment_traces (payment_id, traceparent) \
     VALUES ($1, $2) ON CONFLICT (payment_id) DO NOTHING";
const PAYMENT_TRACES_BY_PROVIDER_IDS: &str = "SELECT p.provider_payment_id, t.traceparent \
     FROM payment_traces t JOIN payments p ON p.id = t.payment_id WHERE p.provider_payment_id IN ";

#[async_trait]
impl<DB> TraceRepo for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (String, String): FromRow<'r, DB::Row>,
{
    async fn save_payment_trace(
        &self,
        payment_id: Uuid,
        traceparent: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(SAVE_PAYMENT_TRACE)
            .bind(payment_id)
            .bind(traceparent)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn payment_traces_by_provider_ids(
        &self,
        provider_payment_ids: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        if provider_payment_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<DB>::new(PAYMENT_TRACES_BY_PROVIDER_IDS);
        push_list(&mut query, provider_payment_ids.iter().cloned());
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }
}

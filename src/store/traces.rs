//! The trace context each payment was created in (see docs/decisions/0018-traces.md).

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreError;

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

pub(super) const SAVE_PAYMENT_TRACE: &str = "INSERT INTO payment_traces (payment_id, traceparent) \
     VALUES ($1, $2) ON CONFLICT (payment_id) DO NOTHING";
pub(super) const PAYMENT_TRACES_BY_PROVIDER_IDS: &str = "SELECT p.provider_payment_id, t.traceparent \
     FROM payment_traces t JOIN payments p ON p.id = t.payment_id WHERE p.provider_payment_id IN ";

/// Implements [`TraceRepo`] for a store with a `pool` field of an sqlx pool type.
macro_rules! impl_traces {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::TraceRepo for $store {
            async fn save_payment_trace(
                &self,
                payment_id: uuid::Uuid,
                traceparent: &str,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(super::traces::SAVE_PAYMENT_TRACE)
                    .bind(payment_id)
                    .bind(traceparent)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn payment_traces_by_provider_ids(
                &self,
                provider_payment_ids: &[String],
            ) -> Result<Vec<(String, String)>, $crate::store::StoreError> {
                if provider_payment_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query =
                    sqlx::QueryBuilder::<$db>::new(super::traces::PAYMENT_TRACES_BY_PROVIDER_IDS);
                query.push("(");
                let mut ids = query.separated(", ");
                for id in provider_payment_ids {
                    ids.push_bind(id);
                }
                query.push(")");
                Ok(query.build_query_as().fetch_all(&self.pool).await?)
            }
        }
    };
}
pub(super) use impl_traces;

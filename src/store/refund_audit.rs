//! The refund audit: every refund request that passed the refund policy, who made it, when, for
//! how much and why, and what came of it; and when a payment was paid, which the owner refund
//! window counts from.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Executor, FromRow};
use uuid::Uuid;

use super::dialect::{Dialect, SqlStore};
use super::{RefundAuditRow, RefundRow, StoreError};
use crate::domain::{PaymentStatus, RefundActor, RefundOutcome, RefundStatus};

/// Persistence of the refund audit.
#[async_trait]
pub trait RefundAuditRepo {
    /// Records a refund request before the provider is asked (its outcome `requested`), so a
    /// refund the provider makes is never without the request that asked for it.
    async fn begin_refund_audit(&self, entry: &RefundAuditRow) -> Result<(), StoreError>;

    /// Records the provider's refund and completes its audit entry (`refunded`, with the
    /// refund), in one transaction.
    async fn insert_audited_refund(
        &self,
        refund: &RefundRow,
        audit_id: Uuid,
    ) -> Result<(), StoreError>;

    /// Marks a still-`requested` audit entry `failed`: the provider refused or was not reached.
    async fn fail_refund_audit(&self, audit_id: Uuid) -> Result<(), StoreError>;

    /// A payment's refund requests, oldest first.
    async fn refund_audit_of(&self, payment_id: Uuid) -> Result<Vec<RefundAuditRow>, StoreError>;

    /// When the payment was first recorded as paid (its first event with a paid status), if
    /// its event log says.
    async fn payment_paid_at(&self, payment_id: Uuid) -> Result<Option<DateTime<Utc>>, StoreError>;
}

const BEGIN_AUDIT: &str = "INSERT INTO refund_audit (id, payment_id, refund_id, actor_user_id, \
     actor_role, amount, reason, requested_at, outcome) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
const INSERT_REFUND: &str = "INSERT INTO refunds \
     (id, payment_id, provider_refund_id, amount, status, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";
const COMPLETE_AUDIT: &str = "UPDATE refund_audit SET refund_id = $2, outcome = $3 WHERE id = $1";
const FAIL_AUDIT: &str = "UPDATE refund_audit SET outcome = $2 WHERE id = $1 AND outcome = $3";
const AUDIT_OF: &str = "SELECT * FROM refund_audit WHERE payment_id = $1 ORDER BY requested_at, id";
const PAID_AT: &str = "SELECT occurred_at FROM payment_events \
     WHERE payment_id = $1 AND status IN ($2, $3, $4) ORDER BY sequence LIMIT 1";

#[async_trait]
impl<DB> RefundAuditRepo for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<Uuid>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> RefundActor: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> RefundOutcome: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> RefundStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> PaymentStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> RefundAuditRow: FromRow<'r, DB::Row>,
    for<'r> (DateTime<Utc>,): FromRow<'r, DB::Row>,
{
    async fn begin_refund_audit(&self, e: &RefundAuditRow) -> Result<(), StoreError> {
        sqlx::query(BEGIN_AUDIT)
            .bind(e.id)
            .bind(e.payment_id)
            .bind(e.refund_id)
            .bind(e.actor_user_id)
            .bind(e.actor_role)
            .bind(e.amount)
            .bind(e.reason.clone())
            .bind(e.requested_at)
            .bind(e.outcome)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_audited_refund(&self, r: &RefundRow, audit_id: Uuid) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(INSERT_REFUND)
            .bind(r.id)
            .bind(r.payment_id)
            .bind(r.provider_refund_id.as_str())
            .bind(r.amount)
            .bind(r.status.clone())
            .bind(r.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(COMPLETE_AUDIT)
            .bind(audit_id)
            .bind(Some(r.id))
            .bind(RefundOutcome::Refunded)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fail_refund_audit(&self, audit_id: Uuid) -> Result<(), StoreError> {
        sqlx::query(FAIL_AUDIT)
            .bind(audit_id)
            .bind(RefundOutcome::Failed)
            .bind(RefundOutcome::Requested)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn refund_audit_of(&self, payment_id: Uuid) -> Result<Vec<RefundAuditRow>, StoreError> {
        Ok(sqlx::query_as(AUDIT_OF)
            .bind(payment_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn payment_paid_at(&self, payment_id: Uuid) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(DateTime<Utc>,)> = sqlx::query_as(PAID_AT)
            .bind(payment_id)
            .bind(PaymentStatus::Succeeded)
            .bind(PaymentStatus::PartiallyRefunded)
            .bind(PaymentStatus::Refunded)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(at,)| at))
    }
}

//! Payments, refunds and idempotency keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    BatchStep, IdempotencyStart, LoggedEvent, PaymentChange, PaymentRow, RefundRow, StepResult,
    StoreError,
};

/// Persistence of payments.
#[async_trait]
pub trait PaymentRepo {
    /// Claims `key` for a request with `fingerprint`, or says how it was used before.
    async fn begin_idempotent(
        &self,
        user_id: Uuid,
        operation: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<IdempotencyStart, StoreError>;

    /// Stores the response of a claimed key; later uses replay it.
    async fn complete_idempotent(
        &self,
        user_id: Uuid,
        operation: &str,
        key: &str,
        response: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Forgets a claimed key whose request failed, so the client may retry with it.
    async fn release_idempotent(
        &self,
        user_id: Uuid,
        operation: &str,
        key: &str,
    ) -> Result<(), StoreError>;

    /// Records a new payment and its first event, atomically.
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
        status: Option<&str>,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, StoreError>;

    /// A user's payments oldest first, with ids above `after` when given; optionally only one
    /// status (for paging backwards through the newest-first list).
    async fn payments_of_user_ascending(
        &self,
        user_id: Uuid,
        status: Option<&str>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, StoreError>;

    /// How many payments a user has, optionally only of one status.
    async fn count_payments_of_user(
        &self,
        user_id: Uuid,
        status: Option<&str>,
    ) -> Result<i64, StoreError>;

    /// Finds a refund by our id.
    async fn refund_by_id(&self, id: Uuid) -> Result<Option<RefundRow>, StoreError>;

    /// Applies a change if the payment is still as `change` expects, appending its event in the
    /// same transaction; `None` when the payment changed meanwhile.
    async fn apply_payment_change(
        &self,
        change: &PaymentChange,
    ) -> Result<Option<LoggedEvent>, StoreError>;

    /// Writes `steps` in order in one transaction: payment changes (each guarded like
    /// [`PaymentRepo::apply_payment_change`]), their events, and the inbox events they finish.
    /// Returns one result per step.
    async fn apply_steps(&self, steps: &[BatchStep]) -> Result<Vec<StepResult>, StoreError>;

    /// The provider's customer id for a user, if one was recorded.
    async fn payment_customer(
        &self,
        user_id: Uuid,
        provider: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Records a user's customer id; the first one recorded wins and is returned.
    async fn save_payment_customer(
        &self,
        user_id: Uuid,
        provider: &str,
        customer_id: &str,
    ) -> Result<String, StoreError>;

    /// Records a refund.
    async fn insert_refund(&self, refund: &RefundRow) -> Result<(), StoreError>;

    /// Refunds of many payments (for DataLoaders), oldest first.
    async fn refunds_of(&self, payment_ids: &[Uuid]) -> Result<Vec<RefundRow>, StoreError>;
}

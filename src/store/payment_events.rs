//! The ordered history of payment changes.

use async_trait::async_trait;
use uuid::Uuid;

use super::{EventPage, EventScope, LoggedEvent, NewPaymentEvent, PaymentEventRow, StoreError};

/// Appending to and reading the payment event log.
#[async_trait]
pub trait PaymentEventRepo {
    /// Appends an event with the payment's next sequence number. Appends are serialised, so
    /// events become visible in cursor order (see docs/decisions/0009-event-log-visibility.md).
    async fn append_payment_event(
        &self,
        event: &NewPaymentEvent,
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

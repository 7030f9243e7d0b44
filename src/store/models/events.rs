//! The payment event log.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{PaymentEventKind, PaymentStatus};

/// One change applied to a payment.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct PaymentEventRow {
    /// Global, increasing position: clients resume after it.
    pub cursor: i64,
    /// The payment.
    pub payment_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// Position within the payment's own history, from 1.
    pub sequence: i32,
    /// What happened: created, refunded, or a provider event (`payment_intent.succeeded`).
    pub kind: PaymentEventKind,
    /// The payment's status after the change.
    pub status: PaymentStatus,
    /// Refunded amount after the change, in minor units.
    pub amount_refunded: i64,
    /// The provider event that caused it, if any.
    pub source_event_id: Option<String>,
    /// When it was applied.
    pub occurred_at: DateTime<Utc>,
}

/// A change about to be recorded.
#[derive(Debug, Clone)]
pub struct NewPaymentEvent {
    /// The payment.
    pub payment_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// What happened.
    pub kind: PaymentEventKind,
    /// Status after the change.
    pub status: PaymentStatus,
    /// Refunded amount after the change.
    pub amount_refunded: i64,
    /// The provider event behind it.
    pub source_event_id: Option<String>,
}

/// Which events a reader wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventScope {
    /// One payment's events (its owner is checked by the caller).
    Payment(Uuid),
    /// Every event of one user's payments.
    User(Uuid),
}

/// An event just appended to the log, with the cursor of the event logged right before it (in
/// any scope). Appends are serialised, so `previous` chains every event of the log: a reader
/// that has seen `previous` and now sees this event knows nothing lies between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// The event.
    pub event: PaymentEventRow,
    /// Cursor of the event before it in the whole log (0 for the first).
    pub previous: i64,
}

/// Events of one scope read at one moment, with how far the whole log was complete then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// Every event at or below this cursor had committed before the events were read, so the
    /// page holds every event of its scope up to here (or up to its last event, if later).
    pub horizon: i64,
    /// The events, oldest first.
    pub events: Vec<PaymentEventRow>,
}

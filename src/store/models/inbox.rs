//! Provider events in the webhook inbox.

use chrono::{DateTime, Utc};

use crate::domain::InboxStatus;

/// A verified provider event waiting in (or done with) the inbox.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InboxEvent {
    /// Arrival order.
    pub seq: i64,
    /// The provider's event id (the dedupe key).
    pub event_id: String,
    /// e.g. `payment_intent.succeeded`.
    pub event_type: String,
    /// The raw event JSON.
    pub payload: String,
    /// `stripe` or `sandbox`.
    pub source: String,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Where the event is in its life.
    pub status: InboxStatus,
    /// Failed attempts so far.
    pub attempts: i32,
    /// Not before this.
    pub next_attempt_at: DateTime<Utc>,
    /// A processor holds it until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was applied, ignored or declared dead.
    pub processed_at: Option<DateTime<Utc>>,
}

/// How much of the inbox waits, as reported on `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct InboxStats {
    /// Events waiting to be applied.
    pub pending: i64,
    /// Events set aside as dead.
    pub dead: i64,
    /// When the oldest pending event arrived, if any is pending.
    pub oldest_pending_received_at: Option<DateTime<Utc>>,
}

/// A verified event about to be stored.
#[derive(Debug, Clone)]
pub struct NewInboxEvent {
    /// The provider's event id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// The raw event JSON.
    pub payload: String,
    /// `stripe` or `sandbox`.
    pub source: String,
}

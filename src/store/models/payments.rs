//! Payments, refunds, idempotency and batched payment changes.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::LoggedEvent;
use crate::domain::{
    InboxStatus, Metadata, PaymentError, PaymentEventKind, PaymentStatus, RefundStatus,
};

/// A payment as we record it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PaymentRow {
    /// Our id (UUID v7: sorts by creation).
    pub id: Uuid,
    /// Who pays.
    pub user_id: Uuid,
    /// `stripe` or `sandbox`.
    pub provider: String,
    /// The provider's id (`pi_...`).
    pub provider_payment_id: String,
    /// Where the payment is.
    pub status: PaymentStatus,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO-4217.
    pub currency: String,
    /// Refunded so far, minor units.
    pub amount_refunded: i64,
    /// Shown on statements and receipts.
    pub description: Option<String>,
    /// Client metadata (a JSON object in the database).
    pub metadata: Metadata,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Why the last attempt failed; empty when none did or a later one succeeded.
    #[sqlx(flatten)]
    pub last_error: PaymentError,
}

/// A refund of (part of) a payment.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefundRow {
    /// Our id.
    pub id: Uuid,
    /// The payment refunded.
    pub payment_id: Uuid,
    /// The provider's id (`re_...`).
    pub provider_refund_id: String,
    /// Minor units.
    pub amount: i64,
    /// The provider's refund status.
    pub status: RefundStatus,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// What an idempotency key says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyStart {
    /// First use: go ahead.
    Fresh,
    /// Done before with the same request: here is the stored response.
    Replay(String),
    /// The same request is still being handled.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

/// A change to apply to a payment, guarded by the state it must still be in.
#[derive(Debug, Clone)]
pub struct PaymentChange {
    /// The payment.
    pub payment_id: Uuid,
    /// Its owner (for the event log).
    pub user_id: Uuid,
    /// The status it must still have (optimistic concurrency).
    pub from_status: PaymentStatus,
    /// The refunded amount it must still have.
    pub from_refunded: i64,
    /// New status.
    pub status: PaymentStatus,
    /// New refunded amount.
    pub amount_refunded: i64,
    /// Event kind for the log.
    pub kind: PaymentEventKind,
    /// Provider event behind it.
    pub source_event_id: Option<String>,
}

/// One step of a batch of inbox work, written in order in one transaction.
#[derive(Debug, Clone)]
pub struct BatchStep {
    /// The inbox event this step finishes, if any.
    pub inbox_seq: Option<i64>,
    /// The payment the step concerns: once a change to it is refused, its later steps in the
    /// batch are not written (they were decided from the state the refused change assumed).
    pub payment_id: Option<Uuid>,
    /// What to write.
    pub action: StepAction,
    /// With a change: the payment's last error afterwards (`None` leaves it as it is; an empty
    /// error clears it). Written with the change, or not at all when the change is refused.
    pub last_error: Option<PaymentError>,
}

/// What a batch step writes.
#[derive(Debug, Clone)]
pub enum StepAction {
    /// Apply a payment change (its inbox event, if any, is then finished as applied).
    Change(PaymentChange),
    /// Only finish the inbox event with this status (unchanged, ignored).
    Finish(InboxStatus),
}

/// What happened to a batch step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    /// The change was applied and logged.
    Changed(LoggedEvent),
    /// The inbox event was finished without a change.
    Finished,
    /// The payment was not as the step assumed (another writer got there first): nothing was
    /// written for this step; decide again from fresh state.
    Contended,
}

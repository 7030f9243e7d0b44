//! What a payment sold, and the refund audit.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{RefundActor, RefundOutcome};

/// One line of a payment the server priced from the catalog.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PaymentLine {
    /// The payment.
    pub payment_id: Uuid,
    /// Order within the payment, from 0.
    pub position: i64,
    /// The provider's price id (`price_...`).
    pub price_id: String,
    /// Units bought.
    pub quantity: i64,
    /// Minor units per unit, as charged.
    pub unit_amount: i64,
}

/// One refund request that passed the refund policy.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefundAuditRow {
    /// Our id.
    pub id: Uuid,
    /// The payment to refund.
    pub payment_id: Uuid,
    /// The refund recorded, once the provider answered.
    pub refund_id: Option<Uuid>,
    /// Who asked.
    pub actor_user_id: Uuid,
    /// As owner or as admin.
    pub actor_role: RefundActor,
    /// Minor units asked for.
    pub amount: i64,
    /// Why, in the asker's words.
    pub reason: Option<String>,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// What came of it.
    pub outcome: RefundOutcome,
}

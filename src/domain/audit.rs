//! Who asked for a refund, and what came of the request: the vocabulary of the refund audit.

use serde::{Deserialize, Serialize};

// Stored as lower-case text (`owner`); the doc line below is the schema's description.
/// In what capacity someone asked for a refund.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, async_graphql::Enum,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum RefundActor {
    /// The payment's owner, under the owner refund policy (`REFUNDS_BY_OWNER`).
    Owner,
    /// An admin, who may always refund.
    Admin,
}

// Stored as lower-case text (`requested`).
/// What came of a refund request that passed the refund policy.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, async_graphql::Enum,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum RefundOutcome {
    /// Sent to the provider, whose answer was not recorded (in flight, or the process stopped).
    Requested,
    /// The provider refunded; the refund is recorded.
    Refunded,
    /// The provider refused or could not be reached; nothing was recorded.
    Failed,
}

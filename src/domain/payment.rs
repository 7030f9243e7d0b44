//! Where a payment is.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

// Stored, published and shown as `SCREAMING_SNAKE_CASE` text (`SUCCEEDED`); the rule for moving
// between statuses lives with the payment service. The doc line below is the schema's description.
/// Where a payment is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, async_graphql::Enum,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(type_name = "TEXT", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// Waiting for a payment method (new, or the last attempt failed).
    RequiresPaymentMethod,
    /// Has a method; waiting for confirmation.
    RequiresConfirmation,
    /// The customer must act (e.g. 3-D Secure).
    RequiresAction,
    /// The provider is processing it.
    Processing,
    /// Authorised; waiting for capture.
    RequiresCapture,
    /// Paid.
    Succeeded,
    /// Canceled before it was paid.
    Canceled,
    /// Paid, and partly refunded.
    PartiallyRefunded,
    /// Paid, and refunded in full.
    Refunded,
}

impl PaymentStatus {
    /// Every status, in the order a payment may move through them.
    pub const ALL: [PaymentStatus; 9] = [
        PaymentStatus::RequiresPaymentMethod,
        PaymentStatus::RequiresConfirmation,
        PaymentStatus::RequiresAction,
        PaymentStatus::Processing,
        PaymentStatus::RequiresCapture,
        PaymentStatus::Succeeded,
        PaymentStatus::Canceled,
        PaymentStatus::PartiallyRefunded,
        PaymentStatus::Refunded,
    ];

    /// The stored and wire form, e.g. `SUCCEEDED`.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::RequiresPaymentMethod => "REQUIRES_PAYMENT_METHOD",
            PaymentStatus::RequiresConfirmation => "REQUIRES_CONFIRMATION",
            PaymentStatus::RequiresAction => "REQUIRES_ACTION",
            PaymentStatus::Processing => "PROCESSING",
            PaymentStatus::RequiresCapture => "REQUIRES_CAPTURE",
            PaymentStatus::Succeeded => "SUCCEEDED",
            PaymentStatus::Canceled => "CANCELED",
            PaymentStatus::PartiallyRefunded => "PARTIALLY_REFUNDED",
            PaymentStatus::Refunded => "REFUNDED",
        }
    }

    /// Whether the payment has been paid (and so may be refunded).
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded
        )
    }

    /// Whether the payment still waits for the customer (it may be confirmed or canceled).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            PaymentStatus::RequiresPaymentMethod
                | PaymentStatus::RequiresConfirmation
                | PaymentStatus::RequiresAction
        )
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status text this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown payment status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for PaymentStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PaymentStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_text() {
        for status in PaymentStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", status.as_str())
            );
        }
        assert!("succeeded".parse::<PaymentStatus>().is_err());
    }
}

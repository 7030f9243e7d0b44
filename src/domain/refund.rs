//! Where a refund is.

use std::borrow::Cow;

/// Where a refund is, as the provider reports it. Stored as the provider's lower-case text
/// (`succeeded`); a status this version does not name is kept verbatim in [`Self::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    /// Sent; the money is on its way back.
    Pending,
    /// The payer must act before the refund can complete.
    RequiresAction,
    /// Done.
    Succeeded,
    /// The provider could not refund.
    Failed,
    /// Called off.
    Canceled,
    /// A status this version does not name, as the provider sent it.
    Other(String),
}

impl RefundStatus {
    /// The stored text.
    pub fn as_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(match self {
            RefundStatus::Pending => "pending",
            RefundStatus::RequiresAction => "requires_action",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
            RefundStatus::Canceled => "canceled",
            RefundStatus::Other(text) => text,
        })
    }
}

impl From<&str> for RefundStatus {
    fn from(text: &str) -> Self {
        match text {
            "pending" => RefundStatus::Pending,
            "requires_action" => RefundStatus::RequiresAction,
            "succeeded" => RefundStatus::Succeeded,
            "failed" => RefundStatus::Failed,
            "canceled" | "cancelled" => RefundStatus::Canceled,
            other => RefundStatus::Other(other.to_owned()),
        }
    }
}

crate::domain::text::stored_as_text!(RefundStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_statuses_round_trip_and_unknown_ones_are_kept() {
        for text in [
            "pending",
            "requires_action",
            "succeeded",
            "failed",
            "canceled",
        ] {
            assert_eq!(RefundStatus::from(text).as_text(), text);
        }
        assert_eq!(RefundStatus::from("cancelled"), RefundStatus::Canceled);
        assert_eq!(
            RefundStatus::from("reversed"),
            RefundStatus::Other("reversed".into())
        );
        assert_eq!(RefundStatus::from("reversed").as_text(), "reversed");
    }
}

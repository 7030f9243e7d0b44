//! Payment status: where a payment is (the states of a card payment plus refund states), and the
//! transition rule that never moves a payment backwards, however late or out of order events
//! arrive. Each provider adapter maps its own statuses onto these.

use std::str::FromStr;

/// Where a payment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
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

    /// Open states come before processing; settled ones after.
    fn stage(self) -> u8 {
        match self {
            PaymentStatus::RequiresPaymentMethod
            | PaymentStatus::RequiresConfirmation
            | PaymentStatus::RequiresAction => 0,
            PaymentStatus::Processing => 1,
            PaymentStatus::RequiresCapture => 2,
            PaymentStatus::Succeeded | PaymentStatus::Canceled => 3,
            PaymentStatus::PartiallyRefunded => 4,
            PaymentStatus::Refunded => 5,
        }
    }

    /// Parses a status read back from the database, where anything unknown is a bug.
    pub fn stored(text: &str) -> Result<Self, UnknownStatus> {
        text.parse().map_err(|()| UnknownStatus(text.to_owned()))
    }

    /// Whether the payment has been paid (and so may be refunded).
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded
        )
    }

    /// The status after an event reporting `next`, or `None` when the event is stale or would
    /// move the payment backwards (it is then recorded in the inbox but changes nothing).
    ///
    /// Forward means a later stage. Within the open stage any move is fine (the customer adds a
    /// method, 3-D Secure is requested). The one way back is a failed attempt: processing →
    /// requires_payment_method. Canceled and refunded are final; a paid payment only moves to
    /// refund states.
    pub fn transition(self, next: PaymentStatus) -> Option<PaymentStatus> {
        use PaymentStatus::*;
        let allowed = match (self, next) {
            (current, next) if current == next => false,
            (Canceled | Refunded, _) => false,
            (Succeeded, next) => matches!(next, PartiallyRefunded | Refunded),
            (PartiallyRefunded, next) => next == Refunded,
            (Processing, RequiresPaymentMethod) => true,
            (current, next) => {
                next.stage() > current.stage() || (current.stage() == 0 && next.stage() == 0)
            }
        };
        allowed.then_some(next)
    }
}

/// A stored status this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stored payment status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for PaymentStatus {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "REQUIRES_PAYMENT_METHOD" => PaymentStatus::RequiresPaymentMethod,
            "REQUIRES_CONFIRMATION" => PaymentStatus::RequiresConfirmation,
            "REQUIRES_ACTION" => PaymentStatus::RequiresAction,
            "PROCESSING" => PaymentStatus::Processing,
            "REQUIRES_CAPTURE" => PaymentStatus::RequiresCapture,
            "SUCCEEDED" => PaymentStatus::Succeeded,
            "CANCELED" => PaymentStatus::Canceled,
            "PARTIALLY_REFUNDED" => PaymentStatus::PartiallyRefunded,
            "REFUNDED" => PaymentStatus::Refunded,
            _ => return Err(()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::PaymentStatus::*;
    use super::*;

    const ALL: [PaymentStatus; 9] = [
        RequiresPaymentMethod,
        RequiresConfirmation,
        RequiresAction,
        Processing,
        RequiresCapture,
        Succeeded,
        Canceled,
        PartiallyRefunded,
        Refunded,
    ];

    #[test]
    fn the_happy_path_moves_forward() {
        let mut status = RequiresPaymentMethod;
        for next in [
            RequiresConfirmation,
            RequiresAction,
            Processing,
            Succeeded,
            PartiallyRefunded,
            Refunded,
        ] {
            status = status
                .transition(next)
                .unwrap_or_else(|| panic!("{status:?} -> {next:?}"));
        }
    }

    #[test]
    fn late_events_never_move_a_payment_backwards() {
        for stale in [
            RequiresPaymentMethod,
            RequiresAction,
            Processing,
            RequiresCapture,
        ] {
            assert_eq!(Succeeded.transition(stale), None, "{stale:?} after success");
        }
        assert_eq!(Processing.transition(RequiresAction), None);
        assert_eq!(Refunded.transition(PartiallyRefunded), None);
        for next in ALL {
            assert_eq!(Canceled.transition(next), None);
            assert_eq!(Refunded.transition(next), None);
            assert_eq!(next.transition(next), None, "no change is not a transition");
        }
    }

    #[test]
    fn a_failed_attempt_reopens_the_payment() {
        assert_eq!(
            Processing.transition(RequiresPaymentMethod),
            Some(RequiresPaymentMethod)
        );
        assert_eq!(
            RequiresAction.transition(RequiresPaymentMethod),
            Some(RequiresPaymentMethod)
        );
    }

    #[test]
    fn every_status_round_trips() {
        for status in ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        assert_eq!("bogus".parse::<PaymentStatus>(), Err(()));
    }
}

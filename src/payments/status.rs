//! Payment status: the transition rule that never moves a payment backwards, however late or out
//! of order events arrive. Each provider adapter maps its own statuses onto `PaymentStatus`.

pub use crate::domain::PaymentStatus;

impl PaymentStatus {
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

#[cfg(test)]
mod tests {
    use super::PaymentStatus;
    use super::PaymentStatus::*;

    const ALL: [PaymentStatus; 9] = PaymentStatus::ALL;

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
}

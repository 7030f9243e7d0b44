//! Deciding again with the provider's word: when a request's precondition fails only because
//! our copy of a payment may be behind (a payment the provider has taken whose webhook has not
//! arrived), the payment is read back from the provider once, through the resilience layer, and
//! what it says is applied by the same rule as its webhooks: never backwards, logged and
//! announced like an event. The caller then decides again from the stored payment.

use chrono::Utc;
use uuid::Uuid;

use super::apply::{Source, change_for};
use super::change::until_settled;
use super::{PaymentService, PaymentStatus};
use crate::error::AppError;
use crate::providers::payments::ProviderEvent;
use crate::store::{BatchStep, PaymentRow, StepAction, StepResult};

/// The event type logged for a change learned by reading the payment back, not from an event
/// (named like the provider events whose place it takes; clients see it as `providerEventType`).
pub const READ_BACK: &str = "payment_intent.retrieved";

/// Whether a payment in `status` may be paid already without our knowing: it is not paid in
/// our copy, and nothing final (canceled, refunded) rules that out.
pub(super) fn may_be_paid_since(status: PaymentStatus) -> bool {
    status.is_open()
        || matches!(
            status,
            PaymentStatus::Processing | PaymentStatus::RequiresCapture
        )
}

impl PaymentService {
    /// `payment` as stored once the provider's current word about it is applied. Unchanged when
    /// the provider cannot be asked or says nothing new; a provider failure is the caller's
    /// answer (trying again later makes sense).
    pub(super) async fn refetched(&self, payment: PaymentRow) -> Result<PaymentRow, AppError> {
        let state = self
            .provider
            .retrieve_intent(&payment.provider_payment_id)
            .await
            .map_err(|e| self.provider_error(e))?;
        let Some(state) = state else {
            return Ok(payment);
        };
        let report = ProviderEvent::IntentStatus {
            provider_payment_id: state.id,
            status: state.status,
            failure: state.failure,
        };
        // Contended to the end means others keep changing it: decide from what they left.
        until_settled(vec![()], |_| self.apply_read_back(payment.id, &report)).await?;
        self.stored_payment(payment.id).await
    }

    /// One round of applying `report` to the stored payment: `None` when another writer
    /// changed it meanwhile.
    async fn apply_read_back(
        &self,
        payment_id: Uuid,
        report: &ProviderEvent,
    ) -> Result<Vec<Option<()>>, AppError> {
        let payment = self.stored_payment(payment_id).await?;
        let source = Source {
            event_type: READ_BACK,
            event_id: None,
        };
        let Some((change, last_error)) =
            change_for(&payment, report, source).map_err(AppError::internal)?
        else {
            return Ok(vec![Some(())]);
        };
        let step = BatchStep {
            inbox_seq: None,
            payment_id: Some(payment_id),
            action: StepAction::Change(change),
            last_error,
        };
        Ok(vec![
            match self.store.apply_steps(&[step], Utc::now()).await?.pop() {
                Some(StepResult::Changed(event)) => {
                    self.announce(&event).await;
                    Some(())
                }
                Some(StepResult::Finished) => Some(()),
                Some(StepResult::Contended) | None => None,
            },
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_payments_not_known_to_be_settled_are_read_back() {
        let read_back: Vec<_> = PaymentStatus::ALL
            .into_iter()
            .filter(|s| may_be_paid_since(*s))
            .collect();
        assert_eq!(
            read_back,
            [
                PaymentStatus::RequiresPaymentMethod,
                PaymentStatus::RequiresConfirmation,
                PaymentStatus::RequiresAction,
                PaymentStatus::Processing,
                PaymentStatus::RequiresCapture,
            ]
        );
    }
}

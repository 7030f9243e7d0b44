//! Refunds: the fresh and replayed halves of `refundPayment`, and recording a refund on its
//! payment through the compare-and-swap loop.

use chrono::Utc;
use uuid::Uuid;

use super::PaymentService;
use super::change::{refund_status, until_settled};
use super::idempotency::provider_key;
use super::service::{REFUND, StoredRefund};
use crate::domain::{PaymentEventKind, RefundStatus};
use crate::error::AppError;
use crate::store::{PaymentChange, PaymentRow, RefundRow};

impl PaymentService {
    pub(super) async fn refund_fresh(
        &self,
        user: Uuid,
        payment: PaymentRow,
        amount: Option<i64>,
        key: &str,
    ) -> Result<(RefundRow, StoredRefund), AppError> {
        // Our copy may be behind a payment the provider has taken: ask it, once, then decide.
        let payment = if super::refetch::may_be_paid_since(payment.status) {
            self.refetched(payment).await?
        } else {
            payment
        };
        let status = payment.status;
        if !status.is_paid() {
            return Err(AppError::Conflict(format!(
                "only paid payments can be refunded; this one is {}",
                status.as_str()
            )));
        }
        let left = payment.amount - payment.amount_refunded;
        let amount = amount.unwrap_or(left);
        if amount < 1 || amount > left {
            return Err(AppError::bad_input(
                "amount",
                format!("refund between 1 and {left} (what is left to refund)"),
            ));
        }
        let refund = self
            .provider
            .refund(
                &payment.provider_payment_id,
                amount,
                &provider_key(user, REFUND, key),
            )
            .await
            .map_err(|e| self.provider_error(e))?;
        let row = RefundRow {
            id: Uuid::now_v7(),
            payment_id: payment.id,
            provider_refund_id: refund.id,
            amount: refund.amount,
            status: RefundStatus::from(refund.status.as_str()),
            created_at: Utc::now(),
        };
        self.store.insert_refund(&row).await?;
        self.record_refund(payment.id, row.amount).await?;
        let stored = StoredRefund { refund_id: row.id };
        Ok((row, stored))
    }

    pub(super) async fn replay_refund(
        &self,
        payment_id: Uuid,
        stored: StoredRefund,
    ) -> Result<RefundRow, AppError> {
        let refunds = self.store.refunds_of(&[payment_id]).await?;
        refunds
            .into_iter()
            .find(|r| r.id == stored.refund_id)
            .ok_or(AppError::NotFound("refund"))
    }

    /// Adds a refund of `amount` we made to its payment's refunded total, deciding again if
    /// the payment changes meanwhile.
    async fn record_refund(&self, payment_id: Uuid, amount: i64) -> Result<(), AppError> {
        let settled = until_settled(vec![()], |_| self.refund_once(payment_id, amount)).await?;
        match settled.first() {
            Some(Some(())) => Ok(()),
            _ => Err(AppError::Conflict(
                "the payment kept changing; try again".into(),
            )),
        }
    }

    /// One round of [`record_refund`](Self::record_refund): `None` when the payment changed
    /// under it.
    async fn refund_once(
        &self,
        payment_id: Uuid,
        amount: i64,
    ) -> Result<Vec<Option<()>>, AppError> {
        let payment = self.stored_payment(payment_id).await?;
        let refunded = (payment.amount_refunded + amount).min(payment.amount);
        let change = PaymentChange {
            payment_id,
            user_id: payment.user_id,
            from_status: payment.status,
            from_refunded: payment.amount_refunded,
            status: refund_status(payment.amount, refunded),
            amount_refunded: refunded,
            kind: PaymentEventKind::Refund,
            // Ours, not a provider event's: the provider's `charge.refunded` then changes nothing.
            source_event_id: None,
        };
        let logged = self.store.apply_payment_change(&change, Utc::now()).await?;
        if let Some(event) = &logged {
            self.announce(event).await;
        }
        Ok(vec![logged.map(|_| ())])
    }
}

//! The read side of payments: what a viewer may see, and driving sandbox payments.

use uuid::Uuid;

use super::errors::decline_message;
use super::{PaymentService, PaymentStatus};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::providers::payments::{SandboxIntent, SandboxOutcome};
use crate::store::{PaymentRow, RefundRow};

impl PaymentService {
    /// The payment if the viewer may see it (its owner, or an admin).
    pub async fn visible_payment(
        &self,
        viewer: &Viewer,
        id: Uuid,
    ) -> Result<Option<PaymentRow>, AppError> {
        let payment = self.store.payment_by_id(id).await?;
        Ok(payment.filter(|p| viewer.may_see_owned_by(p.user_id)))
    }

    /// The viewer's payments, newest first.
    pub async fn payments(
        &self,
        viewer: &Viewer,
        status: Option<PaymentStatus>,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, AppError> {
        Ok(self
            .store
            .payments_of_user(viewer.user_id, status, before, limit)
            .await?)
    }

    /// The viewer's payments newer than `after` (all when `None`), oldest first: the page
    /// before a cursor in the newest-first list.
    pub async fn payments_ascending(
        &self,
        viewer: &Viewer,
        status: Option<PaymentStatus>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, AppError> {
        Ok(self
            .store
            .payments_of_user_ascending(viewer.user_id, status, after, limit)
            .await?)
    }

    /// How many payments the viewer has, optionally only of one status.
    pub async fn count_payments(
        &self,
        viewer: &Viewer,
        status: Option<PaymentStatus>,
    ) -> Result<i64, AppError> {
        Ok(self
            .store
            .count_payments_of_user(viewer.user_id, status)
            .await?)
    }

    /// A refund the viewer may see: one of a payment they may see.
    pub async fn visible_refund(
        &self,
        viewer: &Viewer,
        id: Uuid,
    ) -> Result<Option<RefundRow>, AppError> {
        let Some(refund) = self.store.refund_by_id(id).await? else {
            return Ok(None);
        };
        Ok(self
            .visible_payment(viewer, refund.payment_id)
            .await?
            .map(|_| refund))
    }

    /// Drives one of the viewer's sandbox payments to `outcome`, as its payer would; the change
    /// arrives like any provider event. A decline also answers `PAYMENT_DECLINED` with the
    /// reason, as confirming with a declined card does.
    pub async fn drive_sandbox_payment(
        &self,
        viewer: &Viewer,
        id: Uuid,
        outcome: SandboxOutcome,
    ) -> Result<PaymentRow, AppError> {
        let payment = self
            .visible_payment(viewer, id)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
        let status = payment.status;
        if !status.is_open() {
            return Err(AppError::Conflict(format!(
                "the payment is {}; only a payment waiting for its payer can be confirmed",
                status.as_str()
            )));
        }
        let intent = SandboxIntent {
            id: &payment.provider_payment_id,
            amount: payment.amount,
            currency: &payment.currency,
        };
        if !self.provider.drive(&intent, &outcome) {
            return Err(AppError::Forbidden(format!(
                "only sandbox payments can be confirmed this way; this server uses {}",
                self.provider.name()
            )));
        }
        if let SandboxOutcome::Decline(code) = outcome {
            return Err(AppError::PaymentDeclined {
                message: decline_message(Some(&code), "the sandbox declined the card"),
                decline_code: Some(code),
            });
        }
        Ok(payment)
    }

    /// Refunds of many payments at once.
    pub async fn refunds_of(&self, payment_ids: &[Uuid]) -> Result<Vec<RefundRow>, AppError> {
        Ok(self.store.refunds_of(payment_ids).await?)
    }
}

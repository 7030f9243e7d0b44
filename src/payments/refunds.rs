//! Refunds: the fresh and replayed halves of `refundPayment` (the refund policy and the audit
//! entry come before the provider is asked), and recording a refund on its payment through the
//! compare-and-swap loop.

use chrono::Utc;
use uuid::Uuid;

use super::PaymentService;
use super::change::{refund_status, until_settled};
use super::idempotency::provider_key;
use super::service::{REFUND, RefundRequest, StoredRefund};
use crate::auth::Viewer;
use crate::domain::{PaymentEventKind, RefundOutcome, RefundStatus};
use crate::error::AppError;
use crate::store::{PaymentChange, PaymentRow, RefundAuditRow, RefundRow};

impl PaymentService {
    pub(super) async fn refund_fresh(
        &self,
        viewer: &Viewer,
        payment: PaymentRow,
        request: RefundRequest<'_>,
    ) -> Result<(RefundRow, StoredRefund), AppError> {
        let (user, amount, key) = (viewer.user_id, request.amount, request.key);
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
        let audit = self
            .audit_refund(viewer, &payment, amount, request.reason)
            .await?;
        let refund = match self
            .provider
            .refund(
                &payment.provider_payment_id,
                amount,
                &provider_key(user, REFUND, key),
            )
            .await
        {
            Ok(refund) => refund,
            Err(err) => {
                if let Err(store) = self.store.fail_refund_audit(audit).await {
                    tracing::warn!(error = %store, audit_id = %audit, "refund audit left as requested");
                }
                return Err(self.provider_error(err));
            }
        };
        let row = RefundRow {
            id: Uuid::now_v7(),
            payment_id: payment.id,
            provider_refund_id: refund.id,
            amount: refund.amount,
            status: RefundStatus::from(refund.status.as_str()),
            created_at: Utc::now(),
        };
        self.store.insert_audited_refund(&row, audit).await?;
        self.record_refund(payment.id, row.amount).await?;
        let stored = StoredRefund { refund_id: row.id };
        Ok((row, stored))
    }

    /// Applies the refund policy to `viewer` and, if it passes, records the request in the
    /// refund audit before the provider is asked. Returns the audit entry's id.
    async fn audit_refund(
        &self,
        viewer: &Viewer,
        payment: &PaymentRow,
        amount: i64,
        reason: Option<String>,
    ) -> Result<Uuid, AppError> {
        let now = Utc::now();
        // A payment whose log does not say when it was paid counts from its creation, which
        // only shortens the window.
        let paid_at = self
            .store
            .payment_paid_at(payment.id)
            .await?
            .unwrap_or(payment.created_at);
        let actor = self.rules.refund_actor(viewer, paid_at, now).inspect_err(|_| {
            tracing::info!(payment_id = %payment.id, user_id = %viewer.user_id, "refund refused by policy");
        })?;
        let entry = RefundAuditRow {
            id: Uuid::now_v7(),
            payment_id: payment.id,
            refund_id: None,
            actor_user_id: viewer.user_id,
            actor_role: actor,
            amount,
            reason,
            requested_at: now,
            outcome: RefundOutcome::Requested,
        };
        self.store.begin_refund_audit(&entry).await?;
        Ok(entry.id)
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

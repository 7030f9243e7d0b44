//! Applying provider events (webhooks, sandbox) to payments through the status transition rule.

use async_trait::async_trait;
use serde_json::Value;

use super::{PaymentService, PaymentStatus};
use crate::store::PaymentChange;
use crate::webhooks::{Applied, ApplyError, Envelope, EventHandler};

/// How many times a change is retried when the payment changes under it.
const CONCURRENT_RETRIES: usize = 5;

#[async_trait]
impl EventHandler for PaymentService {
    async fn apply(&self, event: &Envelope, _source: &str) -> Result<Applied, ApplyError> {
        let object = &event.data.object;
        match event.event_type.as_str() {
            t if t.starts_with("payment_intent.") => self.apply_intent(event, object).await,
            "charge.refunded" => self.apply_charge_refund(event, object).await,
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                let status = if object["payment_status"].as_str() == Some("paid") {
                    "succeeded"
                } else {
                    "processing"
                };
                self.apply_status(event, object, status).await
            }
            _ => Ok(Applied::Ignored),
        }
    }
}

impl PaymentService {
    async fn apply_intent(&self, event: &Envelope, intent: &Value) -> Result<Applied, ApplyError> {
        match intent["status"].as_str() {
            Some(status) => self.apply_status(event, intent, status).await,
            None => Ok(Applied::Ignored),
        }
    }

    /// Moves the payment whose provider id is `object.id` (a PaymentIntent or Checkout Session)
    /// to the Stripe `status`, if that is a forward move.
    async fn apply_status(
        &self,
        event: &Envelope,
        object: &Value,
        status: &str,
    ) -> Result<Applied, ApplyError> {
        let id = object["id"]
            .as_str()
            .ok_or_else(|| ApplyError::Fatal("event object without id".into()))?;
        let Some(next) = PaymentStatus::from_stripe(status) else {
            return Ok(Applied::Ignored);
        };
        for _ in 0..CONCURRENT_RETRIES {
            let Some(payment) = self.store.payment_by_provider_id(id).await? else {
                // The creating request may not have recorded it yet; the inbox retries.
                return Err(ApplyError::Retry(format!(
                    "payment {id} is not recorded yet"
                )));
            };
            let current = PaymentStatus::stored(&payment.status)
                .map_err(|e| ApplyError::Fatal(e.to_string()))?;
            let Some(status) = current.transition(next) else {
                return Ok(Applied::Unchanged);
            };
            let change = PaymentChange {
                payment_id: payment.id,
                user_id: payment.user_id,
                from_status: payment.status.clone(),
                from_refunded: payment.amount_refunded,
                status: status.as_str().to_owned(),
                amount_refunded: payment.amount_refunded,
                kind: event.event_type.clone(),
                source_event_id: Some(event.id.clone()),
            };
            if let Some(row) = self.store.apply_payment_change(&change).await? {
                self.announce(&row).await;
                return Ok(Applied::Changed);
            }
        }
        Err(ApplyError::Retry("the payment kept changing".into()))
    }

    async fn apply_charge_refund(
        &self,
        event: &Envelope,
        charge: &Value,
    ) -> Result<Applied, ApplyError> {
        let (Some(intent), Some(refunded)) = (
            charge["payment_intent"].as_str(),
            charge["amount_refunded"].as_i64(),
        ) else {
            return Ok(Applied::Ignored);
        };
        let Some(payment) = self.store.payment_by_provider_id(intent).await? else {
            return Err(ApplyError::Retry(format!(
                "payment {intent} is not recorded yet"
            )));
        };
        // Refunds we made ourselves are recorded already; only catch up on the difference.
        let missing = refunded - payment.amount_refunded;
        if missing <= 0 {
            return Ok(Applied::Unchanged);
        }
        self.record_refund(payment.id, missing, Some(event.id.clone()))
            .await
            .map_err(|e| ApplyError::Retry(e.to_string()))?;
        Ok(Applied::Changed)
    }
}

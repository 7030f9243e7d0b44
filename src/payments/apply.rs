//! Applying provider events (webhooks, sandbox) to payments through the status transition rule.
//!
//! A claimed batch is applied with one read of its payments and one transaction: each event is
//! decided against the payment as the events before it in the batch left it, and its change, its
//! log entry and its inbox row are written together.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;

use super::{PaymentService, PaymentStatus};
use crate::domain::PaymentEventKind;
use crate::store::{
    BatchStep, InboxEvent, InboxStatus, PaymentChange, PaymentRow, StepAction, StepResult,
    StoreError,
};
use crate::webhooks::{Applied, ApplyError, Envelope, EventHandler, Outcome};

/// What one provider event asks of a payment.
#[derive(Debug, Clone, PartialEq)]
enum Intent {
    /// Move the payment with this provider id to `status`, if that is a forward move.
    Status {
        provider_id: String,
        status: PaymentStatus,
    },
    /// The provider says this much of the payment is refunded in all.
    Refunded { provider_id: String, refunded: i64 },
    /// Nothing we act on.
    Ignore,
}

impl Intent {
    fn provider_id(&self) -> Option<&str> {
        match self {
            Intent::Status { provider_id, .. } | Intent::Refunded { provider_id, .. } => {
                Some(provider_id)
            }
            Intent::Ignore => None,
        }
    }
}

/// How one event of a batch was decided, before anything is written.
enum Decision {
    /// Write this step.
    Step(BatchStep, Applied),
    /// Not now, or never.
    Failed(ApplyError),
}

#[async_trait]
impl EventHandler for PaymentService {
    async fn apply_batch(&self, events: &[InboxEvent]) -> Result<Vec<Outcome>, StoreError> {
        let intents: Vec<Result<Intent, ApplyError>> = events.iter().map(intent_of).collect();
        let mut ids: Vec<String> = intents
            .iter()
            .filter_map(|i| i.as_ref().ok()?.provider_id().map(str::to_owned))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut payments: HashMap<String, PaymentRow> = self
            .store
            .payments_by_provider_ids(&ids)
            .await?
            .into_iter()
            .map(|p| (p.provider_payment_id.clone(), p))
            .collect();
        let decisions: Vec<Decision> = events
            .iter()
            .zip(intents)
            .map(|(event, intent)| decide(event, intent, &mut payments))
            .collect();
        let steps: Vec<BatchStep> = decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Step(step, _) => Some(step.clone()),
                Decision::Failed(_) => None,
            })
            .collect();
        let mut results = self
            .store
            .apply_steps(&steps, chrono::Utc::now())
            .await?
            .into_iter();
        let mut logged = Vec::new();
        let outcomes = decisions
            .into_iter()
            .map(|decision| match decision {
                Decision::Failed(err) => Outcome::Failed(err),
                Decision::Step(_, applied) => match results.next() {
                    Some(StepResult::Changed(event)) => {
                        logged.push(event);
                        Outcome::Done(Applied::Changed)
                    }
                    Some(StepResult::Finished) => Outcome::Done(applied),
                    Some(StepResult::Contended) | None => Outcome::Contended,
                },
            })
            .collect();
        self.bus.publish(&logged).await;
        Ok(outcomes)
    }
}

/// Decides `event` against `payments` as the batch's earlier events left them, updating them.
fn decide(
    event: &InboxEvent,
    intent: Result<Intent, ApplyError>,
    payments: &mut HashMap<String, PaymentRow>,
) -> Decision {
    let intent = match intent {
        Ok(Intent::Ignore) => {
            return finish(event, None, InboxStatus::Ignored, Applied::Ignored);
        }
        Ok(intent) => intent,
        Err(err) => return Decision::Failed(err),
    };
    let id = intent.provider_id().unwrap_or_default();
    let Some(payment) = payments.get_mut(id) else {
        // The creating request may not have recorded it yet; the inbox retries.
        return Decision::Failed(ApplyError::Retry(format!(
            "payment {id} is not recorded yet"
        )));
    };
    let change = match change_for(payment, &intent, event) {
        Ok(Some(change)) => change,
        Ok(None) => {
            return finish(
                event,
                Some(payment.id),
                InboxStatus::Applied,
                Applied::Unchanged,
            );
        }
        Err(err) => return Decision::Failed(err),
    };
    payment.status = change.status;
    payment.amount_refunded = change.amount_refunded;
    Decision::Step(
        BatchStep {
            inbox_seq: Some(event.seq),
            payment_id: Some(payment.id),
            action: StepAction::Change(change),
        },
        Applied::Changed,
    )
}

fn finish(
    event: &InboxEvent,
    payment_id: Option<uuid::Uuid>,
    status: InboxStatus,
    applied: Applied,
) -> Decision {
    let step = BatchStep {
        inbox_seq: Some(event.seq),
        payment_id,
        action: StepAction::Finish(status),
    };
    Decision::Step(step, applied)
}

/// The change `intent` makes to `payment`, or `None` when it changes nothing.
fn change_for(
    payment: &PaymentRow,
    intent: &Intent,
    event: &InboxEvent,
) -> Result<Option<PaymentChange>, ApplyError> {
    let current = payment.status;
    let (status, amount_refunded, kind) = match intent {
        Intent::Status { status, .. } => match current.transition(*status) {
            Some(next) => (
                next,
                payment.amount_refunded,
                PaymentEventKind::Provider(event.event_type.clone()),
            ),
            None => return Ok(None),
        },
        Intent::Refunded { refunded, .. } => {
            // Refunds we made ourselves are recorded already; only catch up on the difference.
            if *refunded <= payment.amount_refunded {
                return Ok(None);
            }
            let refunded = (*refunded).min(payment.amount);
            let status = if refunded >= payment.amount {
                PaymentStatus::Refunded
            } else {
                PaymentStatus::PartiallyRefunded
            };
            (status, refunded, PaymentEventKind::Refund)
        }
        Intent::Ignore => return Ok(None),
    };
    Ok(Some(PaymentChange {
        payment_id: payment.id,
        user_id: payment.user_id,
        from_status: payment.status,
        from_refunded: payment.amount_refunded,
        status,
        amount_refunded,
        kind,
        source_event_id: Some(event.event_id.clone()),
    }))
}

/// What a stored event asks for.
fn intent_of(event: &InboxEvent) -> Result<Intent, ApplyError> {
    let envelope = Envelope::parse(event.payload.as_bytes())
        .ok_or_else(|| ApplyError::Fatal("stored payload is not an event".into()))?;
    let object = &envelope.data.object;
    let stripe_status = match envelope.event_type.as_str() {
        t if t.starts_with("payment_intent.") => object["status"].as_str(),
        "charge.refunded" => {
            return Ok(
                match (
                    object["payment_intent"].as_str(),
                    object["amount_refunded"].as_i64(),
                ) {
                    (Some(intent), Some(refunded)) => Intent::Refunded {
                        provider_id: intent.to_owned(),
                        refunded,
                    },
                    _ => Intent::Ignore,
                },
            );
        }
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            if object["payment_status"].as_str() == Some("paid") {
                Some("succeeded")
            } else {
                Some("processing")
            }
        }
        _ => return Ok(Intent::Ignore),
    };
    let Some(stripe_status) = stripe_status else {
        return Ok(Intent::Ignore);
    };
    let provider_id = object_id(object)?;
    Ok(match PaymentStatus::from_stripe(stripe_status) {
        Some(status) => Intent::Status {
            provider_id,
            status,
        },
        None => Intent::Ignore,
    })
}

fn object_id(object: &Value) -> Result<String, ApplyError> {
    object["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ApplyError::Fatal("event object without id".into()))
}

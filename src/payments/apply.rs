//! Applying provider events (webhooks, sandbox) to payments through the status transition rule.
//!
//! Events arrive as stored inbox rows; the adapter of each row's source decodes it into a
//! [`ProviderEvent`], so nothing here knows a provider's wire format. A claimed batch is applied
//! with one read of its payments and one transaction: each event is decided against the payment
//! as the events before it in the batch left it, and its change, its log entry and its inbox row
//! are written together. Events whose payment another writer changed meanwhile are decided again
//! (the compare-and-swap loop of [`super::change`]).

use std::collections::HashMap;

use async_trait::async_trait;

use super::change::{refund_status, until_settled};
use super::failure;
use super::{PaymentService, PaymentStatus};
use crate::domain::{PaymentError, PaymentEventKind};
use crate::providers::payments::ProviderEvent;
use crate::store::{
    BatchStep, InboxEvent, InboxStatus, PaymentChange, PaymentRow, StepAction, StepResult,
    StoreError,
};
use crate::webhooks::{Applied, ApplyError, EventHandler, Outcome};

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
        // Each event is decoded once; subscription and invoice events go to the subscriptions'
        // own rule, one by one.
        let decoded: Vec<Result<ProviderEvent, ApplyError>> = events
            .iter()
            .map(|e| Ok(self.decoders.decode(&e.source, e.payload.as_bytes())?))
            .collect();
        let mut billing = Vec::new();
        let mut payments = Vec::new();
        for (index, (event, decoded)) in events.iter().zip(&decoded).enumerate() {
            match decoded {
                Ok(report) if report.provider_subscription_id().is_some() => {
                    billing.push((index, event, report))
                }
                _ => payments.push((index, (event, decoded))),
            }
        }
        let mut outcomes: Vec<Option<Outcome>> = events.iter().map(|_| None).collect();
        let settled = until_settled(payments.iter().map(|(_, e)| *e).collect(), |open| {
            self.apply_once(open)
        })
        .await?;
        for ((index, _), outcome) in payments.iter().zip(settled) {
            outcomes[*index] = Some(outcome.unwrap_or(Outcome::Failed(ApplyError::Contended)));
        }
        for (index, event, report) in billing {
            outcomes[index] = Some(self.apply_subscription_event(event, report).await?);
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Outcome::Failed(ApplyError::Contended)))
            .collect())
    }
}

impl PaymentService {
    /// One round over `events` (each with what it was decoded to): an outcome per event,
    /// `None` where another writer changed the payment meanwhile and nothing was written.
    async fn apply_once(
        &self,
        events: Vec<(&InboxEvent, &Result<ProviderEvent, ApplyError>)>,
    ) -> Result<Vec<Option<Outcome>>, StoreError> {
        let mut payments = self.payments_of(events.iter().map(|(_, d)| *d)).await?;
        let decisions: Vec<Decision> = events
            .iter()
            .map(|(event, decoded)| decide(event, (*decoded).clone(), &mut payments))
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
                Decision::Failed(err) => Some(Outcome::Failed(err)),
                Decision::Step(_, applied) => match results.next() {
                    Some(StepResult::Changed(event)) => {
                        logged.push(event);
                        Some(Outcome::Done(Applied::Changed))
                    }
                    Some(StepResult::Finished) => Some(Outcome::Done(applied)),
                    Some(StepResult::Contended) | None => None,
                },
            })
            .collect();
        self.bus.publish(&logged).await;
        Ok(outcomes)
    }

    /// The payments the decoded events are about, by provider id, in one read.
    async fn payments_of(
        &self,
        decoded: impl Iterator<Item = &Result<ProviderEvent, ApplyError>>,
    ) -> Result<HashMap<String, PaymentRow>, StoreError> {
        let mut ids: Vec<String> = decoded
            .filter_map(|e| e.as_ref().ok()?.provider_payment_id().map(str::to_owned))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(self
            .store
            .payments_by_provider_ids(&ids)
            .await?
            .into_iter()
            .map(|p| (p.provider_payment_id.clone(), p))
            .collect())
    }
}

/// Decides `event` against `payments` as the batch's earlier events left them, updating them.
fn decide(
    event: &InboxEvent,
    decoded: Result<ProviderEvent, ApplyError>,
    payments: &mut HashMap<String, PaymentRow>,
) -> Decision {
    let decoded = match decoded {
        Ok(ProviderEvent::Ignored) => {
            return finish(event, None, InboxStatus::Ignored, Applied::Ignored);
        }
        Ok(decoded) => decoded,
        Err(err) => return Decision::Failed(err),
    };
    let id = decoded.provider_payment_id().unwrap_or_default();
    let Some(payment) = payments.get_mut(id) else {
        // The creating request may not have recorded it yet; the inbox retries.
        return Decision::Failed(ApplyError::NotRecordedYet(id.to_owned()));
    };
    let source = Source {
        event_type: &event.event_type,
        event_id: Some(event.event_id.as_str()),
    };
    let (change, last_error) = match change_for(payment, &decoded, source) {
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
    if let Some(error) = &last_error {
        payment.last_error = error.clone();
    }
    Decision::Step(
        BatchStep {
            inbox_seq: Some(event.seq),
            payment_id: Some(payment.id),
            action: StepAction::Change(change),
            last_error,
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
        last_error: None,
    };
    Decision::Step(step, applied)
}

/// Where a report about a payment came from: an inbox event, or a read-back of the payment
/// from the provider (which has no event id).
#[derive(Debug, Clone, Copy)]
pub(super) struct Source<'a> {
    /// The event type logged with the change (`payment_intent.succeeded`).
    pub(super) event_type: &'a str,
    /// The provider's event id, when the report was an event.
    pub(super) event_id: Option<&'a str>,
}

/// The change `decoded` makes to `payment` with the payment's last error afterwards (`None`:
/// unchanged), or `None` when it changes nothing. Webhooks and read-backs both decide here.
pub(super) fn change_for(
    payment: &PaymentRow,
    decoded: &ProviderEvent,
    source: Source<'_>,
) -> Result<Option<(PaymentChange, Option<PaymentError>)>, ApplyError> {
    let current = payment.status;
    let provider_kind = PaymentEventKind::Provider(source.event_type.to_owned());
    let stored_error = &payment.last_error;
    let (status, amount_refunded, kind, last_error) = match decoded {
        ProviderEvent::IntentStatus {
            status, failure, ..
        } => {
            let next = current.transition(*status);
            // A report the rule refuses as stale says nothing about the last error either.
            if next.is_none() && *status != current {
                return Ok(None);
            }
            let after = next.unwrap_or(current);
            let last_error = failure::after_report(after, failure.as_ref(), stored_error);
            if next.is_none() && last_error.is_none() {
                return Ok(None);
            }
            (after, payment.amount_refunded, provider_kind, last_error)
        }
        ProviderEvent::CheckoutCompleted { paid, .. } => {
            // A completed checkout whose money is still on its way is processing.
            let reported = if *paid {
                PaymentStatus::Succeeded
            } else {
                PaymentStatus::Processing
            };
            match current.transition(reported) {
                Some(next) => (
                    next,
                    payment.amount_refunded,
                    provider_kind,
                    failure::after_report(next, None, stored_error),
                ),
                None => return Ok(None),
            }
        }
        ProviderEvent::Refunded {
            amount_refunded, ..
        } => {
            // Refunds we made ourselves are recorded already; only catch up on the difference.
            if *amount_refunded <= payment.amount_refunded {
                return Ok(None);
            }
            let refunded = (*amount_refunded).min(payment.amount);
            (
                refund_status(payment.amount, refunded),
                refunded,
                PaymentEventKind::Refund,
                None,
            )
        }
        // Subscription events are routed to the subscriptions' rule before this.
        ProviderEvent::Ignored
        | ProviderEvent::SubscriptionChanged { .. }
        | ProviderEvent::InvoiceChanged { .. } => return Ok(None),
    };
    let change = PaymentChange {
        payment_id: payment.id,
        user_id: payment.user_id,
        from_status: payment.status,
        from_refunded: payment.amount_refunded,
        status,
        amount_refunded,
        kind,
        source_event_id: source.event_id.map(str::to_owned),
    };
    Ok(Some((change, last_error)))
}

//! Applying the provider's subscription and invoice events from the inbox, one at a time: each
//! is decided against the subscription's record through [`super::rule`], and its change, its log
//! entry and its inbox row are written in one transaction guarded by the record's version.

use chrono::Utc;

use super::rule::{self, Report};
use crate::payments::PaymentService;
use crate::payments::change::CHANGE_ROUNDS;
use crate::providers::payments::ProviderEvent;
use crate::store::{
    InboxEvent, InboxStatus, NewSubscriptionEvent, Notice, StoreError, SubscriptionWrite,
    SubscriptionWritten,
};
use crate::webhooks::{Applied, ApplyError, Outcome};

impl PaymentService {
    /// Applies one decoded subscription or invoice event (see
    /// [`ProviderEvent::provider_subscription_id`]).
    pub(in crate::payments) async fn apply_subscription_event(
        &self,
        event: &InboxEvent,
        decoded: &ProviderEvent,
    ) -> Result<Outcome, StoreError> {
        let Some(provider_id) = decoded.provider_subscription_id() else {
            return Ok(Outcome::Done(Applied::Ignored));
        };
        let report = match decoded {
            ProviderEvent::SubscriptionChanged {
                subscription,
                occurred_at,
            } => Report::Snapshot {
                subscription,
                occurred_at: Some(*occurred_at),
            },
            ProviderEvent::InvoiceChanged {
                invoice,
                outcome,
                occurred_at,
                ..
            } => Report::Invoice {
                invoice,
                outcome: *outcome,
                occurred_at: *occurred_at,
            },
            _ => return Ok(Outcome::Done(Applied::Ignored)),
        };
        let finished = Some((event.seq, InboxStatus::Applied));
        for _ in 0..CHANGE_ROUNDS {
            let ids = [provider_id.to_owned()];
            let Some(current) = self.store.subscriptions_by_provider_ids(&ids).await?.pop() else {
                // The subscribing request may not have recorded it yet; the inbox retries.
                return Ok(Outcome::Failed(ApplyError::NotRecordedYet(
                    provider_id.to_owned(),
                )));
            };
            let next = rule::next(&current, report);
            if next == current {
                self.store
                    .write_subscription(None, finished, Utc::now())
                    .await?;
                return Ok(Outcome::Done(Applied::Unchanged));
            }
            let visible = rule::visible_change(&current, &next);
            let write = SubscriptionWrite {
                log: visible.then(|| NewSubscriptionEvent {
                    kind: event.event_type.clone(),
                    source_event_id: Some(event.event_id.clone()),
                }),
                next,
            };
            match self
                .store
                .write_subscription(Some(&write), finished, Utc::now())
                .await?
            {
                SubscriptionWritten::Written(logged) => {
                    if let Some(logged) = logged {
                        self.bus.publish_notices(&[Notice::from(&logged)]).await;
                    }
                    let applied = if visible {
                        Applied::Changed
                    } else {
                        Applied::Unchanged
                    };
                    return Ok(Outcome::Done(applied));
                }
                SubscriptionWritten::Contended => continue,
            }
        }
        Ok(Outcome::Failed(ApplyError::Contended))
    }
}

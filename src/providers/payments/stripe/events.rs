//! Stripe's events (webhook bodies, and what `GET /v1/events` lists), decoded into
//! [`ProviderEvent`]s.

use serde::Deserialize;

use super::billing;
use super::transformers::{ChargeObject, CheckoutObject, Event, IntentObject, MetadataOnly};
use crate::providers::payments::event::{DecodeError, EventDecoder, EventHeader, ProviderEvent};

/// The source Stripe's events are stored under.
pub const SOURCE: &str = "stripe";

/// The Stripe event types this adapter acts on; every other type decodes to
/// [`ProviderEvent::Ignored`]. Operators register exactly these for the endpoint (`switchboard
/// doctor` checks it; docs/webhooks.md lists them).
pub const EVENT_TYPES: &[&str] = &[
    "payment_intent.succeeded",
    "payment_intent.processing",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.requires_action",
    "payment_intent.amount_capturable_updated",
    "charge.refunded",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.payment_action_required",
];

/// Reads Stripe's events. Needs no keys: the webhook signature was checked before.
#[derive(Debug, Clone, Copy, Default)]
pub struct StripeEvents;

impl EventDecoder for StripeEvents {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn header(&self, body: &[u8]) -> Result<EventHeader, DecodeError> {
        let event: Event<MetadataOnly> = read(body)?;
        if event.id.is_empty() || event.kind.is_empty() {
            return Err(DecodeError::malformed(
                SOURCE,
                "an event needs an id and a type",
            ));
        }
        Ok(EventHeader {
            id: event.id,
            kind: event.kind,
            traceparent: event.data.object.traceparent(),
        })
    }

    fn decode(&self, body: &[u8]) -> Result<ProviderEvent, DecodeError> {
        let kind = self.header(body)?.kind;
        let event = match kind.as_str() {
            k if k.starts_with("payment_intent.") => {
                ProviderEvent::try_from(read::<IntentObject>(body)?.data.object)
            }
            "charge.refunded" => Ok(ProviderEvent::from(read::<ChargeObject>(body)?.data.object)),
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                ProviderEvent::try_from(read::<CheckoutObject>(body)?.data.object)
            }
            k if billing::is_billing(k) => {
                return billing::decode(k, body).map_err(|e| DecodeError::malformed(SOURCE, e));
            }
            _ => Ok(ProviderEvent::Ignored),
        };
        event.map_err(|reason| DecodeError::malformed(SOURCE, reason))
    }
}

fn read<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<Event<T>, DecodeError> {
    serde_json::from_slice(body).map_err(|e| DecodeError::malformed(SOURCE, e))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::PaymentStatus;
    use crate::providers::payments::event::PaymentFailure;

    fn decode(kind: &str, object: serde_json::Value) -> Result<ProviderEvent, DecodeError> {
        let body = json!({ "id": "evt_1", "type": kind, "data": { "object": object } });
        StripeEvents.decode(body.to_string().as_bytes())
    }

    #[test]
    fn the_header_carries_the_trace_the_creation_put_into_metadata() {
        let header = |object: serde_json::Value| {
            let body = json!({ "id": "evt_1", "type": "payment_intent.succeeded", "data": { "object": object } });
            StripeEvents.header(body.to_string().as_bytes()).unwrap()
        };
        let carried = header(json!({ "id": "pi_1", "metadata": { "traceparent": "00-x" } }));
        assert_eq!(carried.traceparent.as_deref(), Some("00-x"));
        assert_eq!(header(json!({ "id": "pi_1" })).traceparent, None);
        assert_eq!(
            header(json!({ "id": "pi_1", "metadata": {} })).traceparent,
            None
        );
    }

    #[test]
    fn intent_events_carry_the_status_and_the_failure() {
        let event = decode(
            "payment_intent.payment_failed",
            json!({ "id": "pi_1", "status": "requires_payment_method", "amount": 5,
                    "last_payment_error": { "code": "card_declined", "decline_code": "expired_card" } }),
        );
        assert_eq!(
            event.unwrap(),
            ProviderEvent::IntentStatus {
                provider_payment_id: "pi_1".into(),
                status: PaymentStatus::RequiresPaymentMethod,
                failure: Some(PaymentFailure {
                    code: Some("card_declined".into()),
                    decline_code: Some("expired_card".into()),
                    message: None,
                }),
            }
        );
    }

    #[test]
    fn unknown_statuses_and_types_are_ignored_not_refused() {
        let unknown = decode(
            "payment_intent.created",
            json!({ "id": "pi_1", "status": "requires_source" }),
        );
        assert_eq!(unknown.unwrap(), ProviderEvent::Ignored);
        let no_status = decode("payment_intent.created", json!({ "id": "pi_1" }));
        assert_eq!(no_status.unwrap(), ProviderEvent::Ignored);
        let other = decode("customer.created", json!({ "id": "cus_1" }));
        assert_eq!(other.unwrap(), ProviderEvent::Ignored);
    }

    #[test]
    fn every_listed_event_type_is_acted_on() {
        for kind in EVENT_TYPES {
            let object = match kind.split('.').next() {
                Some("payment_intent") => json!({ "id": "pi_1", "status": "succeeded" }),
                Some("customer") => json!({ "id": "sub_1", "status": "active",
                    "items": { "data": [{ "price": { "id": "price_1" } }] } }),
                Some("invoice") => {
                    json!({ "id": "in_1", "status": "paid", "subscription": "sub_1" })
                }
                Some("charge") => {
                    json!({ "id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 1 })
                }
                _ => json!({ "id": "cs_1", "payment_status": "paid" }),
            };
            let event = decode(kind, object).unwrap();
            assert_ne!(event, ProviderEvent::Ignored, "{kind}");
        }
    }

    #[test]
    fn refunds_and_checkouts_decode() {
        let refund = decode(
            "charge.refunded",
            json!({ "id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 300 }),
        );
        assert_eq!(
            refund.unwrap(),
            ProviderEvent::Refunded {
                provider_payment_id: "pi_1".into(),
                amount_refunded: 300
            }
        );
        let expanded = decode(
            "charge.refunded",
            json!({ "payment_intent": { "id": "pi_1" }, "amount_refunded": 300 }),
        );
        assert_eq!(expanded.unwrap(), ProviderEvent::Ignored);
        let checkout = decode(
            "checkout.session.completed",
            json!({ "id": "cs_1", "payment_status": "unpaid" }),
        );
        assert_eq!(
            checkout.unwrap(),
            ProviderEvent::CheckoutCompleted {
                provider_payment_id: "cs_1".into(),
                paid: false
            }
        );
    }

    #[test]
    fn bodies_that_are_not_events_are_refused() {
        assert!(StripeEvents.header(b"{\"id\":\"evt_1\"}").is_err());
        assert!(StripeEvents.header(b"not json").is_err());
        let no_id = decode("payment_intent.succeeded", json!({ "status": "succeeded" }));
        assert!(matches!(no_id, Err(DecodeError::Malformed { .. })));
        let header = StripeEvents
            .header(br#"{"id":"evt_9","type":"x.y","data":{"object":{}}}"#)
            .unwrap();
        assert_eq!((header.id.as_str(), header.kind.as_str()), ("evt_9", "x.y"));
    }
}

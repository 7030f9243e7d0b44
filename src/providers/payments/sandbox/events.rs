//! The sandbox's own event format: one flat JSON object per step of a payment, e.g.
//! `{"id":"evt_sandbox_…","created":1700000000,"payment":"pi_sandbox_…","status":"failed",
//! "decline_code":"insufficient_funds","amount":1200,"currency":"usd"}`.
//!
//! Its event types (what clients see as `providerEventType`) are named like Stripe's, so client
//! code written against the sandbox sees the same ones in production.

use serde::{Deserialize, Serialize};

use crate::domain::PaymentStatus;
use crate::providers::payments::event::{
    DecodeError, EventDecoder, EventHeader, PaymentFailure, ProviderEvent,
};

/// The source sandbox events are stored under.
pub const SOURCE: &str = "sandbox";

/// A step of a sandbox payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The bank asks the payer for 3-D Secure.
    RequiresAction,
    /// The payment is on its way.
    Processing,
    /// Paid.
    Succeeded,
    /// The card was declined.
    Failed,
    /// A step a later version emits.
    #[serde(other)]
    Unknown,
}

impl Step {
    /// The event type of this step.
    fn kind(self) -> &'static str {
        match self {
            Step::RequiresAction => "payment_intent.requires_action",
            Step::Processing => "payment_intent.processing",
            Step::Succeeded => "payment_intent.succeeded",
            Step::Failed => "payment_intent.payment_failed",
            Step::Unknown => "sandbox.unknown",
        }
    }
}

/// A sandbox event as sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireEvent {
    /// `evt_sandbox_…`: the dedupe key.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// The sandbox's payment id (`pi_sandbox_…`).
    pub payment: String,
    /// What happened.
    pub status: Step,
    /// Why the card was declined, for `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// Minor units (informative).
    #[serde(default)]
    pub amount: i64,
    /// ISO-4217 code (informative).
    #[serde(default)]
    pub currency: String,
}

impl WireEvent {
    /// A new event about `payment`.
    pub fn new(payment: &str, amount: i64, currency: &str, status: Step) -> Self {
        Self {
            id: format!("evt_sandbox_{}", uuid::Uuid::now_v7().simple()),
            created: chrono::Utc::now().timestamp(),
            payment: payment.to_owned(),
            status,
            decline_code: None,
            amount,
            currency: currency.to_owned(),
        }
    }

    /// The JSON body.
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("a sandbox event serializes")
    }
}

impl From<WireEvent> for ProviderEvent {
    fn from(event: WireEvent) -> Self {
        let (status, failure) = match event.status {
            Step::RequiresAction => (PaymentStatus::RequiresAction, None),
            Step::Processing => (PaymentStatus::Processing, None),
            Step::Succeeded => (PaymentStatus::Succeeded, None),
            Step::Failed => (
                // A declined attempt leaves the payment waiting for another method.
                PaymentStatus::RequiresPaymentMethod,
                Some(PaymentFailure {
                    code: Some("card_declined".into()),
                    decline_code: event.decline_code,
                    message: Some("Your card was declined.".into()),
                }),
            ),
            Step::Unknown => return ProviderEvent::Ignored,
        };
        ProviderEvent::IntentStatus {
            provider_payment_id: event.payment,
            status,
            failure,
        }
    }
}

/// Reads sandbox events.
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxEvents;

impl SandboxEvents {
    fn read(body: &[u8]) -> Result<WireEvent, DecodeError> {
        let event: WireEvent =
            serde_json::from_slice(body).map_err(|e| DecodeError::malformed(SOURCE, e))?;
        if event.id.is_empty() {
            return Err(DecodeError::malformed(SOURCE, "an event needs an id"));
        }
        Ok(event)
    }
}

impl EventDecoder for SandboxEvents {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn header(&self, body: &[u8]) -> Result<EventHeader, DecodeError> {
        let event = Self::read(body)?;
        Ok(EventHeader {
            kind: event.status.kind().to_owned(),
            id: event.id,
        })
    }

    fn decode(&self, body: &[u8]) -> Result<ProviderEvent, DecodeError> {
        Ok(Self::read(body)?.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_into_the_port_s_words() {
        let mut event = WireEvent::new("pi_sandbox_1", 500, "usd", Step::Failed);
        event.decline_code = Some("insufficient_funds".into());
        let body = event.to_body();
        let header = SandboxEvents.header(body.as_bytes()).unwrap();
        assert_eq!(header.kind, "payment_intent.payment_failed");
        assert_eq!(header.id, event.id);
        let ProviderEvent::IntentStatus {
            provider_payment_id,
            status,
            failure,
        } = SandboxEvents.decode(body.as_bytes()).unwrap()
        else {
            panic!("a status event");
        };
        assert_eq!(provider_payment_id, "pi_sandbox_1");
        assert_eq!(status, PaymentStatus::RequiresPaymentMethod);
        assert_eq!(
            failure.unwrap().decline_code.as_deref(),
            Some("insufficient_funds")
        );
    }

    #[test]
    fn unknown_steps_are_ignored_and_stripe_bodies_refused() {
        let body =
            r#"{"id":"evt_sandbox_1","created":1,"payment":"pi_sandbox_1","status":"refunded"}"#;
        assert_eq!(
            SandboxEvents.decode(body.as_bytes()).unwrap(),
            ProviderEvent::Ignored
        );
        let stripe = r#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{}}}"#;
        assert!(SandboxEvents.header(stripe.as_bytes()).is_err());
    }
}

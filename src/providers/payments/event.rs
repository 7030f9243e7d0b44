//! Inbound provider events in the port's own words. Each adapter decodes its wire format into
//! [`ProviderEvent`]; the payments domain only ever sees these values, and the inbox picks the
//! decoder by the event's source.

use std::collections::HashMap;
use std::sync::Arc;

use super::billing::{InvoiceOutcome, ProviderInvoice, ProviderSubscription};
use crate::domain::PaymentStatus;

/// Why a payment attempt failed, as the provider reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentFailure {
    /// The provider's error code (`card_declined`, ...).
    pub code: Option<String>,
    /// The card network's reason (`insufficient_funds`, ...).
    pub decline_code: Option<String>,
    /// The provider's words for it.
    pub message: Option<String>,
}

/// What an inbound event says about a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderEvent {
    /// The payment is now in `status`; `failure` says why an attempt failed, when one did.
    IntentStatus {
        /// The provider's id of the payment.
        provider_payment_id: String,
        /// Where the provider says the payment is.
        status: PaymentStatus,
        /// Why the last attempt failed, if it did.
        failure: Option<PaymentFailure>,
    },
    /// This much of the payment is refunded in all (not just by this event).
    Refunded {
        /// The provider's id of the payment.
        provider_payment_id: String,
        /// Minor units refunded so far.
        amount_refunded: i64,
    },
    /// A hosted checkout finished; `paid` is false while the money is still on its way.
    CheckoutCompleted {
        /// The provider's id of the checkout (the payment's provider id).
        provider_payment_id: String,
        /// Whether the payer has paid.
        paid: bool,
    },
    /// Nothing we act on.
    Ignored,
    /// A subscription as it was when the event happened (`customer.subscription.*`).
    SubscriptionChanged {
        /// The subscription's state then (never with a client secret).
        subscription: ProviderSubscription,
        /// When the provider created the event (Unix seconds): what orders a subscription's
        /// events (docs/decisions/0010-subscription-ordering.md).
        occurred_at: i64,
    },
    /// Something happened to the payment of a subscription's invoice (`invoice.*`).
    InvoiceChanged {
        /// The provider's id of the subscription the invoice bills.
        provider_subscription_id: String,
        /// The invoice as it was then.
        invoice: ProviderInvoice,
        /// What happened to its payment.
        outcome: InvoiceOutcome,
        /// When the provider created the event (Unix seconds).
        occurred_at: i64,
    },
}

impl ProviderEvent {
    /// The provider's id of the payment the event is about; `None` for ignored events.
    pub fn provider_payment_id(&self) -> Option<&str> {
        match self {
            ProviderEvent::IntentStatus {
                provider_payment_id,
                ..
            }
            | ProviderEvent::Refunded {
                provider_payment_id,
                ..
            }
            | ProviderEvent::CheckoutCompleted {
                provider_payment_id,
                ..
            } => Some(provider_payment_id),
            ProviderEvent::Ignored
            | ProviderEvent::SubscriptionChanged { .. }
            | ProviderEvent::InvoiceChanged { .. } => None,
        }
    }

    /// The provider's id of the subscription the event is about; `None` for other events.
    pub fn provider_subscription_id(&self) -> Option<&str> {
        match self {
            ProviderEvent::SubscriptionChanged { subscription, .. } => Some(&subscription.id),
            ProviderEvent::InvoiceChanged {
                provider_subscription_id,
                ..
            } => Some(provider_subscription_id),
            _ => None,
        }
    }
}

/// What the inbox needs of any event before it knows what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHeader {
    /// The provider's event id: the dedupe key.
    pub id: String,
    /// The provider's event type (`payment_intent.succeeded`), for logs, metrics and clients.
    pub kind: String,
    /// The W3C `traceparent` the provider carried back from the payment's creation, when the
    /// adapter sent one along (Stripe: the object's `metadata.traceparent`), for trace links.
    pub traceparent: Option<String>,
}

/// Why a body could not be read as an event of a source.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecodeError {
    /// No adapter reads events of this source.
    #[error("no payment provider sends events as {0:?}")]
    UnknownSource(String),
    /// The body is not an event in the source's wire format.
    #[error("not a {provider} event: {reason}")]
    Malformed {
        /// The source whose format was expected.
        provider: &'static str,
        /// What was wrong with it.
        reason: String,
    },
}

impl DecodeError {
    /// A body of `source` that does not read as an event.
    pub fn malformed(provider: &'static str, reason: impl std::fmt::Display) -> Self {
        DecodeError::Malformed {
            provider,
            reason: reason.to_string(),
        }
    }
}

/// Reads one provider's inbound events (its webhook bodies, and what it lists for
/// reconciliation).
pub trait EventDecoder: Send + Sync {
    /// The source its events are stored under (`stripe`, `sandbox`): the provider's name.
    fn source(&self) -> &'static str;

    /// The id and type of an event, without judging the rest of it: the inbox stores any event
    /// it can dedupe, and decides what it means when it applies it.
    fn header(&self, body: &[u8]) -> Result<EventHeader, DecodeError>;

    /// What the event says.
    fn decode(&self, body: &[u8]) -> Result<ProviderEvent, DecodeError>;
}

/// The decoders of every source the server accepts events from, by source.
#[derive(Clone, Default)]
pub struct EventDecoders {
    by_source: HashMap<&'static str, Arc<dyn EventDecoder>>,
}

impl EventDecoders {
    /// No sources yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the decoder of `decoder.source()`.
    pub fn with(mut self, decoder: Arc<dyn EventDecoder>) -> Self {
        self.by_source.insert(decoder.source(), decoder);
        self
    }

    /// The decoder of `source`.
    pub fn of(&self, source: &str) -> Result<&dyn EventDecoder, DecodeError> {
        self.by_source
            .get(source)
            .map(|d| d.as_ref())
            .ok_or_else(|| DecodeError::UnknownSource(source.to_owned()))
    }

    /// The id and type of an event from `source`.
    pub fn header(&self, source: &str, body: &[u8]) -> Result<EventHeader, DecodeError> {
        self.of(source)?.header(body)
    }

    /// What an event from `source` says.
    pub fn decode(&self, source: &str, body: &[u8]) -> Result<ProviderEvent, DecodeError> {
        self.of(source)?.decode(body)
    }
}

impl std::fmt::Debug for EventDecoders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sources: Vec<_> = self.by_source.keys().collect();
        sources.sort_unstable();
        f.debug_struct("EventDecoders")
            .field("sources", &sources)
            .finish()
    }
}

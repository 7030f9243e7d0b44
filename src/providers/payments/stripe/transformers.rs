//! Stripe's wire format: the parts of its responses and events we read, as typed structs, and
//! their conversions into the port's types.
//!
//! Only the fields we use are declared, most of them optional: Stripe's API versions (and
//! localstripe's 2017 one) differ in many fields, and async-stripe's generated models follow one
//! version, so they would refuse older accounts' answers. Status enums end in an `Unknown`
//! variant so a status Stripe adds later is read as "not ours to act on", not as an error.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::domain::PaymentStatus;
use crate::providers::payments::event::{PaymentFailure, ProviderEvent};
use crate::providers::payments::{
    ProviderCheckout, ProviderIntent, ProviderIntentState, ProviderPrice, ProviderRefund,
};
use crate::providers::resilience::ProviderError;

/// A page of a list (`GET /v1/prices`, `GET /v1/events`).
#[derive(Debug, Deserialize)]
pub(super) struct List<T> {
    /// The items of this page.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    /// Whether another page follows.
    #[serde(default)]
    pub has_more: bool,
}

/// A field that is an id, or the object itself when the request expanded it.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Expandable {
    /// Not expanded.
    Id(String),
    /// Expanded; we only use ids.
    Object(IgnoredAny),
}

impl Expandable {
    fn into_id(self) -> Option<String> {
        match self {
            Expandable::Id(id) => Some(id),
            Expandable::Object(_) => None,
        }
    }
}

/// A Price, listed with `expand[]=data.product` so its product's name and metadata come along.
#[derive(Debug, Deserialize)]
pub(super) struct Price {
    id: Option<String>,
    product: Option<ProductField>,
    unit_amount: Option<i64>,
    currency: Option<String>,
    recurring: Option<Recurring>,
    /// Stripe always sends it; a price is listed as sellable when an answer lacks it.
    #[serde(default = "sellable")]
    active: bool,
    #[serde(default)]
    metadata: Option<Metadata>,
}

fn sellable() -> bool {
    true
}

/// Metadata: string keys and values (a `null` value is a key being removed, read as absent).
type Metadata = BTreeMap<String, Option<String>>;

/// A Price's product: its id, or the Product when the request expanded it.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ProductField {
    Id(String),
    Object(Product),
}

/// A Product, as far as the catalog reads it.
#[derive(Debug, Deserialize)]
struct Product {
    id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

/// A Price's billing period.
#[derive(Debug, Deserialize)]
struct Recurring {
    interval: Option<String>,
    interval_count: Option<u32>,
}

impl Price {
    /// `price_...`, to page on from.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The price for our catalog; `None` for prices without a fixed amount (metered, tiered).
    pub fn into_catalog(self) -> Option<ProviderPrice> {
        let (product, product_metadata) = match self.product {
            Some(ProductField::Id(id)) => (Some(id), None),
            Some(ProductField::Object(product)) => (product.name.or(product.id), product.metadata),
            None => (None, None),
        };
        // The product's metadata first, so a key the price sets too reads the price's.
        let metadata = [product_metadata, self.metadata]
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|(key, value)| Some((key, value?)))
            .collect();
        let (interval, interval_count) = self
            .recurring
            .map_or((None, None), |r| (r.interval, r.interval_count));
        Some(ProviderPrice {
            id: self.id?,
            product,
            unit_amount: self.unit_amount?,
            currency: self.currency?,
            interval,
            interval_count,
            active: self.active,
            metadata,
        })
    }
}

/// A Checkout Session.
#[derive(Debug, Deserialize)]
pub(super) struct CheckoutSession {
    id: String,
    url: Option<String>,
    amount_total: Option<i64>,
    currency: Option<String>,
}

impl TryFrom<CheckoutSession> for ProviderCheckout {
    type Error = ProviderError;

    fn try_from(session: CheckoutSession) -> Result<Self, Self::Error> {
        Ok(ProviderCheckout {
            id: session.id,
            url: session.url.ok_or_else(|| lacks("url"))?,
            amount_total: session.amount_total.unwrap_or_default(),
            currency: session.currency.unwrap_or_else(|| "usd".into()),
        })
    }
}

/// A Customer.
#[derive(Debug, Deserialize)]
pub(super) struct Customer {
    pub id: String,
}

/// A PaymentIntent. No `Debug`: it carries the client secret.
#[derive(Deserialize)]
pub(super) struct PaymentIntent {
    id: String,
    status: IntentStatus,
    client_secret: Option<String>,
    #[serde(default)]
    last_payment_error: Option<LastPaymentError>,
}

impl PaymentIntent {
    /// The client secret, which every PaymentIntent answer to its owner carries.
    pub fn client_secret(self) -> Result<String, ProviderError> {
        self.client_secret.ok_or_else(|| lacks("client_secret"))
    }

    /// Where the intent is, for deciding again; `None` for a status we do not know.
    pub fn into_state(self) -> Option<ProviderIntentState> {
        Some(ProviderIntentState {
            status: PaymentStatus::try_from(self.status).ok()?,
            failure: self.last_payment_error.map(PaymentFailure::from),
            id: self.id,
        })
    }
}

impl TryFrom<PaymentIntent> for ProviderIntent {
    type Error = ProviderError;

    fn try_from(intent: PaymentIntent) -> Result<Self, Self::Error> {
        Ok(ProviderIntent {
            // A status this version does not know yet is as open as a new payment.
            status: PaymentStatus::try_from(intent.status)
                .unwrap_or(PaymentStatus::RequiresPaymentMethod),
            client_secret: intent.client_secret.ok_or_else(|| lacks("client_secret"))?,
            id: intent.id,
        })
    }
}

/// A PaymentIntent's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum IntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Succeeded,
    Canceled,
    /// A status this version does not know (or an old API version's name for one).
    #[serde(other)]
    Unknown,
}

/// A Stripe status with no payment status of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UnknownIntentStatus;

impl TryFrom<IntentStatus> for PaymentStatus {
    type Error = UnknownIntentStatus;

    fn try_from(status: IntentStatus) -> Result<Self, Self::Error> {
        Ok(match status {
            IntentStatus::RequiresPaymentMethod => PaymentStatus::RequiresPaymentMethod,
            IntentStatus::RequiresConfirmation => PaymentStatus::RequiresConfirmation,
            IntentStatus::RequiresAction => PaymentStatus::RequiresAction,
            IntentStatus::Processing => PaymentStatus::Processing,
            IntentStatus::RequiresCapture => PaymentStatus::RequiresCapture,
            IntentStatus::Succeeded => PaymentStatus::Succeeded,
            IntentStatus::Canceled => PaymentStatus::Canceled,
            IntentStatus::Unknown => return Err(UnknownIntentStatus),
        })
    }
}

/// A Refund.
#[derive(Debug, Deserialize)]
pub(super) struct Refund {
    id: String,
    amount: Option<i64>,
    status: String,
}

impl Refund {
    /// The refund as the port reports it; `asked` stands in for an amount the answer lacks.
    pub fn into_provider(self, asked: i64) -> ProviderRefund {
        ProviderRefund {
            id: self.id,
            amount: self.amount.unwrap_or(asked),
            status: self.status,
        }
    }
}

/// An event, with its object read as `T`.
#[derive(Debug, Deserialize)]
pub(super) struct Event<T> {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData<T>,
}

/// Only the metadata of an event's object: what the inbox reads before it knows the object's kind.
#[derive(Debug, Deserialize)]
pub(super) struct MetadataOnly {
    #[serde(default)]
    metadata: Option<std::collections::HashMap<String, serde_json::Value>>,
}

impl MetadataOnly {
    /// The `traceparent` the payment's creation put into the object's metadata.
    pub fn traceparent(&self) -> Option<String> {
        let value = self
            .metadata
            .as_ref()?
            .get(crate::telemetry::context::TRACEPARENT)?;
        value.as_str().map(str::to_owned)
    }
}

/// `data` of an event.
#[derive(Debug, Deserialize)]
pub(super) struct EventData<T> {
    /// The object as it was when the event happened.
    pub object: T,
}

/// The object of `payment_intent.*` events.
#[derive(Debug, Deserialize)]
pub(super) struct IntentObject {
    id: Option<String>,
    status: Option<IntentStatus>,
    last_payment_error: Option<LastPaymentError>,
}

/// Why a PaymentIntent's last attempt failed.
#[derive(Debug, Deserialize)]
struct LastPaymentError {
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
}

impl From<LastPaymentError> for PaymentFailure {
    fn from(error: LastPaymentError) -> Self {
        PaymentFailure {
            code: error.code,
            decline_code: error.decline_code,
            message: error.message,
        }
    }
}

impl TryFrom<IntentObject> for ProviderEvent {
    type Error = &'static str;

    fn try_from(object: IntentObject) -> Result<Self, Self::Error> {
        let Some(status) = object.status else {
            return Ok(ProviderEvent::Ignored);
        };
        let provider_payment_id = object.id.ok_or("event object without id")?;
        Ok(match PaymentStatus::try_from(status) {
            Ok(status) => ProviderEvent::IntentStatus {
                provider_payment_id,
                status,
                failure: object.last_payment_error.map(PaymentFailure::from),
            },
            Err(UnknownIntentStatus) => ProviderEvent::Ignored,
        })
    }
}

/// The object of `charge.refunded`.
#[derive(Debug, Deserialize)]
pub(super) struct ChargeObject {
    payment_intent: Option<Expandable>,
    amount_refunded: Option<i64>,
}

impl From<ChargeObject> for ProviderEvent {
    fn from(charge: ChargeObject) -> Self {
        match (
            charge.payment_intent.and_then(Expandable::into_id),
            charge.amount_refunded,
        ) {
            (Some(provider_payment_id), Some(amount_refunded)) => ProviderEvent::Refunded {
                provider_payment_id,
                amount_refunded,
            },
            _ => ProviderEvent::Ignored,
        }
    }
}

/// The object of `checkout.session.completed` and `checkout.session.async_payment_succeeded`.
#[derive(Debug, Deserialize)]
pub(super) struct CheckoutObject {
    id: Option<String>,
    payment_status: Option<CheckoutPaymentStatus>,
}

/// Whether a Checkout Session has been paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CheckoutPaymentStatus {
    Paid,
    #[serde(other)]
    Other,
}

impl TryFrom<CheckoutObject> for ProviderEvent {
    type Error = &'static str;

    fn try_from(object: CheckoutObject) -> Result<Self, Self::Error> {
        Ok(ProviderEvent::CheckoutCompleted {
            provider_payment_id: object.id.ok_or("event object without id")?,
            paid: object.payment_status == Some(CheckoutPaymentStatus::Paid),
        })
    }
}

fn lacks(field: &str) -> ProviderError {
    ProviderError::Permanent {
        status: None,
        code: None,
        message: format!("Stripe response lacks {field}"),
    }
}

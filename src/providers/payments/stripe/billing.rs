//! Stripe Billing: subscription requests, Stripe's subscription and invoice shapes, and their
//! events, in the connector + transformers split of the rest of this adapter.
//!
//! Requests carry what real Stripe (at the API version async-stripe pins) needs. localstripe
//! 1.15.10, which the tests run against, differs in a few places; the test launcher
//! (`tests/peers/localstripe_billing.py`) teaches it these, and each is noted where it is sent:
//! `items[][price]` (localstripe knows only `plan`), `payment_behavior=default_incomplete` and
//! `payment_settings` (unknown to it), and `latest_invoice.confirmation_secret` (since API
//! version 2025-03-31 invoices have no `payment_intent`; localstripe has only that). Answers are
//! read in both shapes.

use serde::{Deserialize, Serialize};
use stripe::StripeRequest;
use stripe_client_core::{RequestBuilder, StripeMethod};

use super::transformers::{EventData, List};
use crate::domain::SubscriptionStatus;
use crate::providers::payments::event::ProviderEvent;
use crate::providers::payments::{
    InvoiceOutcome, ProviderInvoice, ProviderSubscription, SubscriptionRequest,
};
use crate::providers::resilience::ProviderError;

/// The expansion that carries the first invoice's client secret in an answer.
const EXPAND: &[&str] = &["latest_invoice.confirmation_secret"];

/// `POST /v1/subscriptions` with `payment_behavior=default_incomplete`: the first invoice is
/// finalised and its payment waits for the payer to confirm it on the client.
pub(super) struct CreateSubscription<'a>(pub &'a SubscriptionRequest);

impl StripeRequest for CreateSubscription<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        #[derive(Serialize)]
        struct Item<'a> {
            // Real Stripe: `price`. localstripe knows only `plan` (the launcher maps it).
            price: &'a str,
            quantity: u32,
        }
        #[derive(Serialize)]
        struct PaymentSettings {
            // So the card confirmed for the first invoice pays the renewals.
            save_default_payment_method: &'static str,
        }
        #[derive(Serialize)]
        struct Form<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            customer: Option<&'a str>,
            items: Vec<Item<'a>>,
            payment_behavior: &'static str,
            payment_settings: PaymentSettings,
            expand: &'static [&'static str],
        }
        let request = self.0;
        RequestBuilder::new(StripeMethod::Post, "/subscriptions").form(&Form {
            customer: request.customer.as_deref(),
            items: vec![Item {
                price: &request.price_id,
                quantity: request.quantity,
            }],
            payment_behavior: "default_incomplete",
            payment_settings: PaymentSettings {
                save_default_payment_method: "on_subscription",
            },
            expand: EXPAND,
        })
    }
}

/// `GET /v1/subscriptions/{id}`, with its latest invoice's client secret.
pub(super) struct RetrieveSubscription<'a>(pub &'a str);

impl StripeRequest for RetrieveSubscription<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        #[derive(Serialize)]
        struct Query {
            expand: &'static [&'static str],
        }
        RequestBuilder::new(StripeMethod::Get, format!("/subscriptions/{}", self.0))
            .query(&Query { expand: EXPAND })
    }
}

/// What `POST /v1/subscriptions/{id}` changes.
pub(super) enum Change<'a> {
    /// Replace the item's price and quantity. Stripe prorates by default
    /// (`proration_behavior=create_prorations`), so it is not sent: localstripe refuses it here.
    Price {
        item: &'a str,
        price: &'a str,
        quantity: u32,
    },
    /// Set or clear `cancel_at_period_end`.
    CancelAtPeriodEnd(bool),
}

/// `POST /v1/subscriptions/{id}`.
pub(super) struct UpdateSubscription<'a> {
    pub id: &'a str,
    pub change: Change<'a>,
}

impl StripeRequest for UpdateSubscription<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        #[derive(Serialize)]
        struct Item<'a> {
            id: &'a str,
            price: &'a str,
            quantity: u32,
        }
        #[derive(Serialize)]
        struct Form<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            items: Option<Vec<Item<'a>>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            cancel_at_period_end: Option<bool>,
            expand: &'static [&'static str],
        }
        let form = match self.change {
            Change::Price {
                item,
                price,
                quantity,
            } => Form {
                items: Some(vec![Item {
                    id: item,
                    price,
                    quantity,
                }]),
                cancel_at_period_end: None,
                expand: EXPAND,
            },
            Change::CancelAtPeriodEnd(cancel) => Form {
                items: None,
                cancel_at_period_end: Some(cancel),
                expand: EXPAND,
            },
        };
        RequestBuilder::new(StripeMethod::Post, format!("/subscriptions/{}", self.id)).form(&form)
    }
}

/// `DELETE /v1/subscriptions/{id}`: cancels now.
pub(super) struct CancelSubscription<'a>(pub &'a str);

impl StripeRequest for CancelSubscription<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        RequestBuilder::new(StripeMethod::Delete, format!("/subscriptions/{}", self.0))
    }
}

/// An object with an id.
#[derive(Debug, Deserialize)]
pub(super) struct IdOnly {
    id: String,
}

/// A field that is an id, or the object itself when expanded.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IdOrObject {
    Id(String),
    Object(IdOnly),
}

impl IdOrObject {
    fn into_id(self) -> String {
        match self {
            IdOrObject::Id(id) | IdOrObject::Object(IdOnly { id }) => id,
        }
    }
}

/// A Subscription.
#[derive(Deserialize)]
pub(super) struct Subscription {
    id: String,
    status: WireStatus,
    #[serde(default)]
    cancel_at_period_end: bool,
    /// API versions before 2025-03-31 (and localstripe); later ones have it on the items.
    current_period_end: Option<i64>,
    items: Option<List<SubscriptionItem>>,
    latest_invoice: Option<LatestInvoice>,
}

/// A subscription's item.
#[derive(Debug, Deserialize)]
pub(super) struct SubscriptionItem {
    id: Option<String>,
    price: Option<IdOnly>,
    /// localstripe's items carry only the plan (plans and prices share ids).
    plan: Option<IdOnly>,
    quantity: Option<u32>,
    current_period_end: Option<i64>,
}

/// `latest_invoice`: an id, or the invoice when expanded.
#[derive(Deserialize)]
#[serde(untagged)]
enum LatestInvoice {
    Id(#[allow(dead_code)] String),
    Object(Box<Invoice>),
}

/// A subscription's status as Stripe names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireStatus {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
    /// A status this version does not know.
    #[serde(other)]
    Unknown,
}

impl WireStatus {
    fn into_domain(self) -> Option<SubscriptionStatus> {
        Some(match self {
            WireStatus::Incomplete => SubscriptionStatus::Incomplete,
            WireStatus::IncompleteExpired => SubscriptionStatus::IncompleteExpired,
            WireStatus::Trialing => SubscriptionStatus::Trialing,
            WireStatus::Active => SubscriptionStatus::Active,
            WireStatus::PastDue => SubscriptionStatus::PastDue,
            WireStatus::Canceled => SubscriptionStatus::Canceled,
            WireStatus::Unpaid => SubscriptionStatus::Unpaid,
            WireStatus::Paused => SubscriptionStatus::Paused,
            WireStatus::Unknown => return None,
        })
    }
}

/// An Invoice. No `Debug`: it may carry a client secret.
#[derive(Deserialize)]
pub(super) struct Invoice {
    id: Option<String>,
    amount_due: Option<i64>,
    currency: Option<String>,
    status: Option<String>,
    hosted_invoice_url: Option<String>,
    /// API versions from 2025-03-31.
    confirmation_secret: Option<ConfirmationSecret>,
    /// Earlier API versions (and localstripe), when expanded.
    payment_intent: Option<InvoiceIntent>,
    /// Earlier API versions (and localstripe).
    subscription: Option<IdOrObject>,
    /// API versions from 2025-03-31: `parent.subscription_details.subscription`.
    parent: Option<InvoiceParent>,
}

#[derive(Deserialize)]
struct ConfirmationSecret {
    client_secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum InvoiceIntent {
    Id(#[allow(dead_code)] String),
    Object { client_secret: Option<String> },
}

#[derive(Debug, Deserialize)]
struct InvoiceParent {
    subscription_details: Option<SubscriptionDetails>,
}

#[derive(Debug, Deserialize)]
struct SubscriptionDetails {
    subscription: Option<IdOrObject>,
}

impl Invoice {
    /// The client secret of the invoice's payment, while the invoice waits to be paid.
    fn client_secret(&mut self) -> Option<String> {
        if self.status.as_deref() != Some("open") {
            return None;
        }
        let modern = self
            .confirmation_secret
            .take()
            .and_then(|c| c.client_secret);
        modern.or_else(|| match self.payment_intent.take() {
            Some(InvoiceIntent::Object { client_secret }) => client_secret,
            _ => None,
        })
    }

    fn subscription_id(&mut self) -> Option<String> {
        let parent = self
            .parent
            .take()
            .and_then(|p| p.subscription_details)
            .and_then(|d| d.subscription);
        parent.or(self.subscription.take()).map(IdOrObject::into_id)
    }

    fn into_provider(self) -> Option<ProviderInvoice> {
        Some(ProviderInvoice {
            id: self.id?,
            amount_due: self.amount_due.unwrap_or_default(),
            currency: self.currency,
            status: self.status,
            hosted_invoice_url: self.hosted_invoice_url,
        })
    }
}

impl Subscription {
    /// The item id, which a price change names.
    pub fn item_id(&self) -> Option<&str> {
        self.items.as_ref()?.data.first()?.id.as_deref()
    }

    /// The subscription in the port's words; `Err` with a reason when it does not read as one.
    pub fn into_provider(self) -> Result<ProviderSubscription, String> {
        let status = self
            .status
            .into_domain()
            .ok_or("a subscription status this version does not know")?;
        let item = self
            .items
            .and_then(|items| items.data.into_iter().next())
            .ok_or("a subscription without items")?;
        let price_id = item
            .price
            .or(item.plan)
            .map(|p| p.id)
            .ok_or("a subscription item without a price")?;
        let (latest_invoice, client_secret) = match self.latest_invoice {
            Some(LatestInvoice::Object(mut invoice)) => {
                let secret = invoice.client_secret();
                (invoice.into_provider(), secret)
            }
            _ => (None, None),
        };
        Ok(ProviderSubscription {
            id: self.id,
            status,
            price_id,
            quantity: item.quantity.unwrap_or(1),
            current_period_end: self.current_period_end.or(item.current_period_end),
            cancel_at_period_end: self.cancel_at_period_end,
            latest_invoice,
            client_secret,
        })
    }
}

/// The subscription in an answer to our own call.
pub(super) fn answered(subscription: Subscription) -> Result<ProviderSubscription, ProviderError> {
    subscription
        .into_provider()
        .map_err(|reason| ProviderError::Permanent {
            status: None,
            code: None,
            message: format!("unreadable Stripe subscription: {reason}"),
        })
}

/// The envelope of a billing event: its time, and its object.
#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    created: i64,
    data: EventData<T>,
}

/// Whether Stripe events of `kind` are billing events this adapter decodes here.
pub(super) fn is_billing(kind: &str) -> bool {
    kind.starts_with("customer.subscription.") || invoice_outcome(kind).is_some()
}

fn invoice_outcome(kind: &str) -> Option<InvoiceOutcome> {
    Some(match kind {
        // `invoice.payment_succeeded` says the same as `invoice.paid` (and is what localstripe
        // sends); only `invoice.paid` needs registering.
        "invoice.paid" | "invoice.payment_succeeded" => InvoiceOutcome::Paid,
        "invoice.payment_failed" => InvoiceOutcome::PaymentFailed,
        "invoice.payment_action_required" => InvoiceOutcome::ActionRequired,
        _ => return None,
    })
}

/// Decodes a billing event (see [`is_billing`]).
pub(super) fn decode(kind: &str, body: &[u8]) -> Result<ProviderEvent, String> {
    if let Some(outcome) = invoice_outcome(kind) {
        let event: Envelope<Invoice> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let mut invoice = event.data.object;
        let Some(provider_subscription_id) = invoice.subscription_id() else {
            // A one-off invoice: no subscription of ours.
            return Ok(ProviderEvent::Ignored);
        };
        let invoice = invoice.into_provider().ok_or("an invoice without id")?;
        return Ok(ProviderEvent::InvoiceChanged {
            provider_subscription_id,
            invoice,
            outcome,
            occurred_at: event.created,
        });
    }
    let event: Envelope<Subscription> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if event.data.object.status == WireStatus::Unknown {
        return Ok(ProviderEvent::Ignored);
    }
    let mut subscription = event.data.object.into_provider()?;
    // Events never carry a secret; the invoice is only an id there (its details come with the
    // invoice's own events).
    subscription.client_secret = None;
    Ok(ProviderEvent::SubscriptionChanged {
        subscription,
        occurred_at: event.created,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn subscription(object: serde_json::Value) -> ProviderSubscription {
        serde_json::from_value::<Subscription>(object)
            .unwrap()
            .into_provider()
            .unwrap()
    }

    #[test]
    fn answers_read_in_the_current_and_the_old_shape() {
        let current = subscription(json!({
            "id": "sub_1", "status": "incomplete", "cancel_at_period_end": false,
            "items": { "data": [{ "id": "si_1", "price": { "id": "price_1" }, "quantity": 2,
                                  "current_period_end": 1_800_000_000 }] },
            "latest_invoice": { "id": "in_1", "status": "open", "amount_due": 1000,
                "currency": "usd", "hosted_invoice_url": "https://invoice.stripe.com/i/1",
                "confirmation_secret": { "client_secret": "pi_1_secret_x", "type": "payment_intent" } }
        }));
        assert_eq!(current.status, SubscriptionStatus::Incomplete);
        assert_eq!(
            (current.price_id.as_str(), current.quantity),
            ("price_1", 2)
        );
        assert_eq!(current.current_period_end, Some(1_800_000_000));
        assert_eq!(current.client_secret.as_deref(), Some("pi_1_secret_x"));
        let invoice = current.latest_invoice.unwrap();
        assert_eq!((invoice.id.as_str(), invoice.amount_due), ("in_1", 1000));
        let old = subscription(json!({
            "id": "sub_2", "status": "active", "cancel_at_period_end": true,
            "current_period_end": 1_700_000_000,
            "items": { "data": [{ "id": "si_2", "plan": { "id": "plan_1" } }] },
            "latest_invoice": { "id": "in_2", "status": "paid", "amount_due": 0,
                "payment_intent": { "id": "pi_2", "client_secret": "pi_2_secret_y" } }
        }));
        assert_eq!((old.price_id.as_str(), old.quantity), ("plan_1", 1));
        assert!(old.cancel_at_period_end);
        // A paid invoice has nothing left to confirm.
        assert_eq!(old.client_secret, None);
    }

    #[test]
    fn billing_events_decode_with_their_time() {
        let body = json!({ "id": "evt_1", "type": "invoice.payment_failed", "created": 1_700_000_100,
            "data": { "object": { "id": "in_3", "status": "open", "amount_due": 500,
                "parent": { "subscription_details": { "subscription": "sub_1" } } } } });
        let event = decode("invoice.payment_failed", body.to_string().as_bytes()).unwrap();
        let ProviderEvent::InvoiceChanged {
            provider_subscription_id,
            outcome,
            occurred_at,
            invoice,
        } = event
        else {
            panic!("an invoice event: {event:?}");
        };
        assert_eq!(provider_subscription_id, "sub_1");
        assert_eq!(outcome, InvoiceOutcome::PaymentFailed);
        assert_eq!((occurred_at, invoice.amount_due), (1_700_000_100, 500));
        let one_off =
            json!({ "created": 1, "data": { "object": { "id": "in_4", "status": "paid" } } });
        assert_eq!(
            decode("invoice.paid", one_off.to_string().as_bytes()).unwrap(),
            ProviderEvent::Ignored
        );
        let deleted = json!({ "created": 5, "data": { "object": { "id": "sub_1", "status": "canceled",
            "latest_invoice": "in_3", "items": { "data": [{ "plan": { "id": "plan_1" } }] } } } });
        let event = decode(
            "customer.subscription.deleted",
            deleted.to_string().as_bytes(),
        )
        .unwrap();
        let ProviderEvent::SubscriptionChanged {
            subscription,
            occurred_at,
        } = event
        else {
            panic!("a subscription event");
        };
        assert_eq!(
            (subscription.status, occurred_at),
            (SubscriptionStatus::Canceled, 5)
        );
        assert_eq!(subscription.latest_invoice, None);
        let unknown =
            json!({ "created": 5, "data": { "object": { "id": "sub_1", "status": "frozen" } } });
        assert_eq!(
            decode(
                "customer.subscription.updated",
                unknown.to_string().as_bytes()
            )
            .unwrap(),
            ProviderEvent::Ignored
        );
    }
}

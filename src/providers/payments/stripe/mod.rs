//! The Stripe adapter: requests described by async-stripe's builders and sent by us
//! ([`client`], [`requests`]), Stripe's wire
//! format and its conversion into the port's types ([`transformers`]), and its events
//! ([`events`]).

mod billing;
mod cards;
mod client;
mod events;
mod portal;
mod requests;
mod transformers;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::value::RawValue;
use stripe::StripeRequest;
use stripe_core::customer::CreateCustomer;
use stripe_core::payment_intent::{CreatePaymentIntent, RetrievePaymentIntent};
use stripe_core::refund::CreateRefund;

use super::event::EventDecoder;
use super::{
    CheckoutRequest, EphemeralKey, IntentRequest, PaymentProvider, PortalRequest, ProviderCheckout,
    ProviderIntent, ProviderIntentState, ProviderPortal, ProviderPrice, ProviderRefund,
    ProviderSetupIntent, ProviderSubscription, SavedCard, SetupRequest, SubscriptionRequest,
    SubscriptionUpdate,
};
use crate::providers::resilience::{Operation, ProviderError, ResilientProvider};
use requests::{CreateCheckoutSession, ListEvents, ListPrices};
use transformers::{CheckoutSession, Customer, List, PaymentIntent, Price, Refund};

pub use events::{EVENT_TYPES, StripeEvents};

/// Stripe's API.
pub struct StripeProvider {
    transport: client::Transport,
    resilience: ResilientProvider,
    publishable_key: Option<String>,
}

impl StripeProvider {
    /// A client for `secret_key`, talking to `api_base` when given (e.g. a local fake Stripe).
    pub fn new(
        secret_key: &SecretString,
        api_base: Option<&str>,
        resilience: ResilientProvider,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            transport: client::Transport::new(
                crate::providers::http_client(),
                secret_key,
                api_base,
            )?,
            resilience,
            publishable_key: None,
        })
    }

    /// The same provider, telling clients `key` (`pk_...`) through
    /// [`PaymentProvider::publishable_key`].
    pub fn with_publishable_key(mut self, key: Option<String>) -> Self {
        self.publishable_key = key;
        self
    }

    /// Sends a request through the policy stack and reads its answer as `T`.
    async fn send<T: serde::de::DeserializeOwned + Send>(
        &self,
        operation: Operation,
        request: &impl StripeRequest,
        key: Option<&str>,
    ) -> Result<T, ProviderError> {
        client::send(&self.transport, &self.resilience, operation, request, key).await
    }
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn resilience(&self) -> &ResilientProvider {
        &self.resilience
    }

    fn events(&self) -> Arc<dyn EventDecoder> {
        Arc::new(StripeEvents)
    }

    async fn list_prices(&self) -> Result<Vec<ProviderPrice>, ProviderError> {
        let mut prices = Vec::new();
        let mut starting_after: Option<String> = None;
        // Ten pages of 100 bound one refresh; a catalog is far smaller.
        for _ in 0..10 {
            let request = ListPrices {
                starting_after: starting_after.as_deref(),
            };
            let page: List<Price> = self
                .send(Operation::read("prices.list"), &request, None)
                .await?;
            starting_after = page.data.last().and_then(Price::id).map(str::to_owned);
            prices.extend(page.data.into_iter().filter_map(Price::into_catalog));
            if !page.has_more || starting_after.is_none() {
                break;
            }
        }
        Ok(prices)
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<Option<ProviderCheckout>, ProviderError> {
        let session: CheckoutSession = self
            .send(
                Operation::idempotent_write("checkout_sessions.create"),
                &CreateCheckoutSession(request),
                Some(&request.idempotency_key),
            )
            .await?;
        session.try_into().map(Some)
    }

    async fn events_since(&self, created_after: i64) -> Result<Vec<String>, ProviderError> {
        let mut events = Vec::new();
        let mut starting_after: Option<String> = None;
        // Stripe lists newest first, 100 at a time; 50 pages bounds one reconciliation run.
        for _ in 0..50 {
            let request = ListEvents {
                created_after,
                starting_after: starting_after.as_deref(),
            };
            // Kept as sent: the inbox stores events as they were received.
            let page: List<Box<RawValue>> = self
                .send(Operation::read("events.list"), &request, None)
                .await?;
            starting_after = page
                .data
                .last()
                .and_then(|e| StripeEvents.header(e.get().as_bytes()).ok())
                .map(|header| header.id);
            events.extend(page.data.iter().map(|e| e.get().to_owned()));
            if !page.has_more || starting_after.is_none() {
                break;
            }
        }
        events.reverse();
        Ok(events)
    }

    async fn create_customer(
        &self,
        email: Option<&str>,
        user_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, ProviderError> {
        let mut create = CreateCustomer::new().metadata(HashMap::from([(
            "switchboard_user_id".to_owned(),
            user_id.to_owned(),
        )]));
        if let Some(email) = email {
            create = create.email(email);
        }
        let customer: Customer = self
            .send(
                Operation::idempotent_write("customers.create"),
                &create,
                Some(idempotency_key),
            )
            .await?;
        Ok(Some(customer.id))
    }

    async fn create_intent(
        &self,
        request: &IntentRequest,
    ) -> Result<ProviderIntent, ProviderError> {
        let currency = stripe_types::Currency::from_str(&request.currency).map_err(|_| {
            ProviderError::Permanent {
                status: None,
                code: Some("currency".into()),
                message: format!("unknown currency {}", request.currency),
            }
        })?;
        let mut create = CreatePaymentIntent::new(request.amount, currency);
        if let Some(customer) = &request.customer {
            create = create.customer(customer.clone());
        }
        let mut metadata: HashMap<_, _> = request.metadata.clone().into_iter().collect();
        // The trace that created the payment, so its webhooks can be linked back to it.
        if let Some(traceparent) = crate::telemetry::context::current_traceparent() {
            metadata.insert(
                crate::telemetry::context::TRACEPARENT.to_owned(),
                traceparent,
            );
        }
        if !metadata.is_empty() {
            create = create.metadata(metadata);
        }
        if let Some(description) = &request.description {
            create = create.description(description.clone());
        }
        let intent: PaymentIntent = self
            .send(
                Operation::idempotent_write("payment_intents.create"),
                &create,
                Some(&request.idempotency_key),
            )
            .await?;
        intent.try_into()
    }

    async fn client_secret(&self, intent_id: &str) -> Result<String, ProviderError> {
        let intent: PaymentIntent = self
            .send(
                Operation::read("payment_intents.retrieve"),
                &RetrievePaymentIntent::new(intent_id.to_owned()),
                None,
            )
            .await?;
        intent.client_secret()
    }

    async fn refund(
        &self,
        payment_id: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        let create = CreateRefund::new()
            .payment_intent(payment_id)
            .amount(amount);
        let refund: Refund = self
            .send(
                Operation::idempotent_write("refunds.create"),
                &create,
                Some(idempotency_key),
            )
            .await?;
        Ok(refund.into_provider(amount))
    }

    async fn retrieve_intent(
        &self,
        intent_id: &str,
    ) -> Result<Option<ProviderIntentState>, ProviderError> {
        let intent: PaymentIntent = self
            .send(
                Operation::read("payment_intents.retrieve"),
                &RetrievePaymentIntent::new(intent_id.to_owned()),
                None,
            )
            .await?;
        Ok(intent.into_state())
    }

    // Billing

    async fn create_subscription(
        &self,
        request: &SubscriptionRequest,
    ) -> Result<ProviderSubscription, ProviderError> {
        let subscription: billing::Subscription = self
            .send(
                Operation::idempotent_write("subscriptions.create"),
                &billing::CreateSubscription(request),
                Some(&request.idempotency_key),
            )
            .await?;
        billing::answered(subscription)
    }

    async fn retrieve_subscription(
        &self,
        subscription_id: &str,
    ) -> Result<ProviderSubscription, ProviderError> {
        billing::answered(self.fetch_subscription(subscription_id).await?)
    }

    async fn update_subscription(
        &self,
        subscription_id: &str,
        update: &SubscriptionUpdate,
        idempotency_key: &str,
    ) -> Result<ProviderSubscription, ProviderError> {
        let current;
        let change = match update {
            SubscriptionUpdate::ChangePrice { price_id, quantity } => {
                // A price change names the item it replaces.
                current = self.fetch_subscription(subscription_id).await?;
                let item = current.item_id().ok_or_else(|| ProviderError::Permanent {
                    status: None,
                    code: None,
                    message: "Stripe subscription without an item id".into(),
                })?;
                billing::Change::Price {
                    item,
                    price: price_id,
                    quantity: *quantity,
                }
            }
            SubscriptionUpdate::CancelAtPeriodEnd => billing::Change::CancelAtPeriodEnd(true),
            SubscriptionUpdate::Resume => billing::Change::CancelAtPeriodEnd(false),
        };
        let request = billing::UpdateSubscription {
            id: subscription_id,
            change,
        };
        let subscription: billing::Subscription = self
            .send(
                Operation::idempotent_write("subscriptions.update"),
                &request,
                Some(idempotency_key),
            )
            .await?;
        billing::answered(subscription)
    }

    async fn cancel_subscription_now(
        &self,
        subscription_id: &str,
        idempotency_key: &str,
    ) -> Result<ProviderSubscription, ProviderError> {
        let subscription: billing::Subscription = self
            .send(
                Operation::idempotent_write("subscriptions.cancel"),
                &billing::CancelSubscription(subscription_id),
                Some(idempotency_key),
            )
            .await?;
        billing::answered(subscription)
    }

    // Billing portal

    async fn create_billing_portal(
        &self,
        request: &PortalRequest,
    ) -> Result<Option<ProviderPortal>, ProviderError> {
        let session: portal::PortalSession = self
            .send(
                Operation::idempotent_write("billing_portal_sessions.create"),
                &portal::CreatePortalSession::of(request)?,
                Some(&request.idempotency_key),
            )
            .await?;
        session.try_into().map(Some)
    }

    // Saved cards and mobile

    fn publishable_key(&self) -> Option<&str> {
        self.publishable_key.as_deref()
    }

    async fn create_ephemeral_key(
        &self,
        customer: &str,
        api_version: Option<&str>,
    ) -> Result<Option<EphemeralKey>, ProviderError> {
        // A fresh key per call: a retried attempt mints one key, a new call (a replay) another.
        let idempotency_key = uuid::Uuid::new_v4().to_string();
        let key: cards::WireEphemeralKey = client::send_at_version(
            &self.transport,
            &self.resilience,
            Operation::idempotent_write("ephemeral_keys.create"),
            &cards::CreateEphemeralKey(customer),
            Some(&idempotency_key),
            // Without the SDK's version, the one this client speaks.
            api_version,
        )
        .await
        .map_err(cards::unknown_version)?;
        key.try_into().map(Some)
    }

    async fn create_setup_intent(
        &self,
        request: &SetupRequest,
    ) -> Result<Option<ProviderSetupIntent>, ProviderError> {
        let intent: cards::SetupIntent = self
            .send(
                Operation::idempotent_write("setup_intents.create"),
                &cards::CreateSetupIntent(request),
                Some(&request.idempotency_key),
            )
            .await?;
        intent.try_into().map(Some)
    }

    async fn setup_intent_secret(&self, setup_intent_id: &str) -> Result<String, ProviderError> {
        let intent: cards::SetupIntent = self
            .send(
                Operation::read("setup_intents.retrieve"),
                &cards::RetrieveSetupIntent(setup_intent_id),
                None,
            )
            .await?;
        ProviderSetupIntent::try_from(intent).map(|intent| intent.client_secret)
    }

    async fn list_cards(&self, customer: &str) -> Result<Vec<SavedCard>, ProviderError> {
        let page: List<cards::PaymentMethod> = self
            .send(
                Operation::read("payment_methods.list"),
                &cards::ListCards(customer),
                None,
            )
            .await?;
        Ok(page
            .data
            .into_iter()
            .filter_map(cards::PaymentMethod::into_card)
            .collect())
    }
}

impl StripeProvider {
    async fn fetch_subscription(
        &self,
        subscription_id: &str,
    ) -> Result<billing::Subscription, ProviderError> {
        self.send(
            Operation::read("subscriptions.retrieve"),
            &billing::RetrieveSubscription(subscription_id),
            None,
        )
        .await
    }
}

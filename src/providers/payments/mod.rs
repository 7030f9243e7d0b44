//! The payment port: what the payment service asks of a provider ([`PaymentProvider`]) and what
//! providers tell us ([`event::ProviderEvent`]), both in our own types. Each adapter (Stripe, and
//! a keyless sandbox that behaves like it) owns its wire format and converts at this seam.

pub mod billing;
mod cards;
pub mod event;
mod sandbox;
mod stripe;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::resilience::{ProviderError, ResilientProvider};
use crate::domain::PaymentStatus;

pub use billing::{
    InvoiceOutcome, ProviderInvoice, ProviderSubscription, SubscriptionRequest, SubscriptionUpdate,
};
pub use cards::{EphemeralKey, ProviderSetupIntent, SavedCard, SetupRequest, UNKNOWN_API_VERSION};
pub use event::{
    DecodeError, EventDecoder, EventDecoders, EventHeader, PaymentFailure, ProviderEvent,
};
pub use sandbox::{SandboxEvent, SandboxEvents, SandboxProvider};
pub use stripe::{EVENT_TYPES as STRIPE_EVENT_TYPES, StripeEvents, StripeProvider};

/// The decoders of the built-in sources: Stripe's webhooks are read whichever provider charges,
/// and the sandbox's events are read even after a server moved to Stripe.
pub fn built_in_decoders() -> EventDecoders {
    EventDecoders::new()
        .with(Arc::new(StripeEvents))
        .with(Arc::new(SandboxEvents))
}

/// A PaymentIntent to create.
#[derive(Debug, Clone)]
pub struct IntentRequest {
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO-4217.
    pub currency: String,
    /// Statement/receipt description.
    pub description: Option<String>,
    /// Client metadata.
    pub metadata: BTreeMap<String, String>,
    /// The provider's customer to attach the payment to.
    pub customer: Option<String>,
    /// Sent as `Idempotency-Key` on every attempt.
    pub idempotency_key: String,
}

/// A PaymentIntent as the provider reports it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderIntent {
    /// `pi_...`.
    pub id: String,
    /// Where the provider says the payment is.
    pub status: PaymentStatus,
    /// Handed to Stripe.js / PaymentSheet to confirm on the client.
    pub client_secret: String,
}

crate::redact::redacted_debug!(ProviderIntent { id, status } hides { client_secret });

/// A hosted Checkout Session to create.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// `(price id, quantity)` pairs.
    pub line_items: Vec<(String, u32)>,
    /// Where the payer lands after paying.
    pub success_url: String,
    /// Where the payer lands after giving up.
    pub cancel_url: String,
    /// The provider's customer to attach the session to.
    pub customer: Option<String>,
    /// Sent as `Idempotency-Key` on every attempt.
    pub idempotency_key: String,
}

/// A Checkout Session as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCheckout {
    /// `cs_...`.
    pub id: String,
    /// The hosted payment page.
    pub url: String,
    /// Total in minor units.
    pub amount_total: i64,
    /// Lower-case ISO-4217.
    pub currency: String,
}

/// A price customers can buy (or could: archived prices are kept, because subscriptions to them
/// still run and still grant what their metadata says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPrice {
    /// `price_...`.
    pub id: String,
    /// What is sold (the product's name when known, else its id).
    pub product: Option<String>,
    /// Minor units per unit.
    pub unit_amount: i64,
    /// Lower-case ISO-4217.
    pub currency: String,
    /// `month`, `year`... for subscriptions; `None` for one-time prices.
    pub interval: Option<String>,
    /// How many `interval`s one billing period lasts (3 with `month` bills quarterly).
    pub interval_count: Option<u32>,
    /// Whether it can be bought now; archived prices are `false`.
    pub active: bool,
    /// The price's metadata merged over its product's: a key set on both reads the price's.
    pub metadata: BTreeMap<String, String>,
}

/// A customer-portal session to create.
#[derive(Debug, Clone)]
pub struct PortalRequest {
    /// The provider's customer whose billing the portal manages.
    pub customer: Option<String>,
    /// Where the portal's "return" link goes (an allowed origin).
    pub return_url: String,
    /// Sent as `Idempotency-Key` on every attempt.
    pub idempotency_key: String,
}

/// A customer-portal session as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPortal {
    /// `bps_...`.
    pub id: String,
    /// The short-lived page to send the customer to.
    pub url: String,
}

/// A refund as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    /// `re_...`.
    pub id: String,
    /// Minor units.
    pub amount: i64,
    /// `succeeded`, `pending`, ...
    pub status: String,
}

/// What the payment service asks of a provider. Every call goes through the provider's
/// resilience policy.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// `stripe` or `sandbox`: stored with its payments, and the source of its events.
    fn name(&self) -> &'static str;

    /// The policy stack its calls go through.
    fn resilience(&self) -> &ResilientProvider;

    /// Reads this provider's inbound events (source [`name`](Self::name)).
    fn events(&self) -> Arc<dyn EventDecoder>;

    /// Raw event JSON the provider created after `created_after` (Unix seconds), oldest first,
    /// for reconciliation; empty for providers whose events are never lost.
    async fn events_since(&self, created_after: i64) -> Result<Vec<String>, ProviderError>;

    /// Creates the provider's customer record for a user; `None` when the provider has no
    /// customers. `idempotency_key` is derived from the user, so one user gets one customer.
    async fn create_customer(
        &self,
        email: Option<&str>,
        user_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, ProviderError>;

    /// Creates a hosted Checkout Session; `None` when the provider has no hosted checkout.
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<Option<ProviderCheckout>, ProviderError>;

    /// The prices, for the catalog: the active ones and the archived ones (subscriptions to an
    /// archived price still grant its entitlements).
    async fn list_prices(&self) -> Result<Vec<ProviderPrice>, ProviderError>;

    /// Creates a PaymentIntent.
    async fn create_intent(&self, request: &IntentRequest)
    -> Result<ProviderIntent, ProviderError>;

    /// The client secret of an existing PaymentIntent, fetched when an idempotent create is
    /// replayed (the secret is never stored).
    async fn client_secret(&self, intent_id: &str) -> Result<String, ProviderError>;

    /// Refunds `amount` of a PaymentIntent.
    async fn refund(
        &self,
        payment_id: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> Result<ProviderRefund, ProviderError>;

    /// Moves a sandbox payment to `outcome` now, as a payer would; `false` from providers with
    /// real payers.
    fn drive(&self, _intent: &SandboxIntent<'_>, _outcome: &SandboxOutcome) -> bool {
        false
    }

    // Reading back

    /// Where a PaymentIntent is now, read from the provider (a read, retried by the policy), for
    /// deciding again when our copy may be behind its webhooks; `None` from providers whose
    /// events are never late (the sandbox hands them over in-process) or when the provider
    /// reports a status we do not know.
    async fn retrieve_intent(
        &self,
        _intent_id: &str,
    ) -> Result<Option<ProviderIntentState>, ProviderError> {
        Ok(None)
    }

    // Billing

    /// Creates a subscription whose first invoice waits for the payer to confirm its payment
    /// (Stripe's `payment_behavior=default_incomplete`), with that payment's client secret.
    async fn create_subscription(
        &self,
        _request: &SubscriptionRequest,
    ) -> Result<ProviderSubscription, ProviderError> {
        Err(no_billing(self.name()))
    }

    /// A subscription as the provider has it now, with the client secret of its latest
    /// invoice's payment while that invoice waits to be paid.
    async fn retrieve_subscription(
        &self,
        _subscription_id: &str,
    ) -> Result<ProviderSubscription, ProviderError> {
        Err(no_billing(self.name()))
    }

    /// Changes a subscription (price with proration, cancellation at period end, resumption).
    async fn update_subscription(
        &self,
        _subscription_id: &str,
        _update: &SubscriptionUpdate,
        _idempotency_key: &str,
    ) -> Result<ProviderSubscription, ProviderError> {
        Err(no_billing(self.name()))
    }

    /// Cancels a subscription now.
    async fn cancel_subscription_now(
        &self,
        _subscription_id: &str,
        _idempotency_key: &str,
    ) -> Result<ProviderSubscription, ProviderError> {
        Err(no_billing(self.name()))
    }

    // Billing portal

    /// Creates a customer-portal session (where customers manage their subscriptions, payment
    /// methods and invoices); `None` when the provider has no portal.
    async fn create_billing_portal(
        &self,
        _request: &PortalRequest,
    ) -> Result<Option<ProviderPortal>, ProviderError> {
        Ok(None)
    }

    // Saved cards and mobile

    /// The publishable key clients use to talk to the provider directly (Stripe.js,
    /// PaymentSheet); `None` from providers without one.
    fn publishable_key(&self) -> Option<&str> {
        None
    }

    /// Mints an ephemeral key giving a mobile SDK access to `customer`, for the SDK's
    /// `api_version` (the provider's default when `None`); `None` from providers without
    /// customers. Every call mints a new key: they expire, so none is kept.
    async fn create_ephemeral_key(
        &self,
        _customer: &str,
        _api_version: Option<&str>,
    ) -> Result<Option<EphemeralKey>, ProviderError> {
        Ok(None)
    }

    /// Creates a SetupIntent to save a card for off-session use; `None` from providers that
    /// cannot save cards.
    async fn create_setup_intent(
        &self,
        _request: &SetupRequest,
    ) -> Result<Option<ProviderSetupIntent>, ProviderError> {
        Ok(None)
    }

    /// The client secret of an existing SetupIntent, fetched when an idempotent create is
    /// replayed (the secret is never stored).
    async fn setup_intent_secret(&self, setup_intent_id: &str) -> Result<String, ProviderError> {
        Err(ProviderError::Permanent {
            status: None,
            code: None,
            message: format!("{} has no SetupIntent {setup_intent_id}", self.name()),
        })
    }

    /// The cards saved for `customer`, newest first.
    async fn list_cards(&self, _customer: &str) -> Result<Vec<SavedCard>, ProviderError> {
        Ok(Vec::new())
    }
}

/// A PaymentIntent's state as the provider reports it when asked (no client secret: this is
/// read to decide, never handed out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIntentState {
    /// `pi_...`.
    pub id: String,
    /// Where the provider says the payment is.
    pub status: PaymentStatus,
    /// Why its last attempt failed, when one did.
    pub failure: Option<PaymentFailure>,
}

/// What a provider without subscriptions answers to billing calls.
fn no_billing(provider: &str) -> ProviderError {
    ProviderError::Permanent {
        status: None,
        code: Some("billing_unsupported".into()),
        message: format!("{provider} does not sell subscriptions"),
    }
}

/// A sandbox payment to drive.
#[derive(Debug, Clone, Copy)]
pub struct SandboxIntent<'a> {
    /// The provider's id (`pi_sandbox_...`).
    pub id: &'a str,
    /// Minor units.
    pub amount: i64,
    /// ISO-4217 code.
    pub currency: &'a str,
}

/// What a sandbox payer does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxOutcome {
    /// Pays.
    Succeed,
    /// The card is declined with this decline code (e.g. `insufficient_funds`).
    Decline(String),
    /// The bank asks for 3-D Secure: the payment waits in `REQUIRES_ACTION`.
    RequireAction,
}

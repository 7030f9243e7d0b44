//! The payment service: what the GraphQL mutations and queries call. Each mutation checks its
//! input, then runs through [`PaymentService::idempotent`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::errors::provider_error;
use super::idempotency::{check_key, fingerprint};
use super::validate;
use crate::auth::Viewer;
use crate::error::AppError;
use crate::events::EventBus;
use crate::providers::cache::Cached;
use crate::providers::payments::{EventDecoders, PaymentProvider, ProviderPrice};
use crate::providers::resilience::ProviderError;
use crate::store::{LoggedEvent, PaymentRow, RefundRow, Store};

/// Input of `createPaymentIntent`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateIntent {
    /// Minor units.
    pub amount: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// Statement/receipt description.
    pub description: Option<String>,
    /// Client metadata.
    pub metadata: BTreeMap<String, String>,
}

/// A created (or replayed) PaymentIntent.
#[derive(Clone)]
pub struct CreatedIntent {
    /// The recorded payment.
    pub payment: PaymentRow,
    /// For Stripe.js / PaymentSheet.
    pub client_secret: String,
}

crate::redact::redacted_debug!(CreatedIntent { payment } hides { client_secret });

/// What an idempotent create stores to replay. The client secret is not kept: a replay fetches
/// it from the provider again, so the database never holds a key to confirm a payment.
/// (Rows written before this read the same; their stored secret is ignored.)
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredIntent {
    pub(super) payment_id: Uuid,
}

/// Input of `createCheckoutSession`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateCheckout {
    /// `(price id, quantity)` pairs.
    pub line_items: Vec<(String, u32)>,
    /// Where the payer lands after paying (an allowed origin).
    pub success_url: String,
    /// Where the payer lands after giving up (an allowed origin).
    pub cancel_url: String,
}

/// A created (or replayed) Checkout Session.
#[derive(Debug, Clone)]
pub struct CreatedCheckout {
    /// The recorded payment.
    pub payment: PaymentRow,
    /// The hosted payment page to send the payer to.
    pub url: String,
}

/// What an idempotent checkout stores to replay.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredCheckout {
    pub(super) payment_id: Uuid,
    pub(super) url: String,
}

/// What an idempotent refund stores to replay.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredRefund {
    pub(super) refund_id: Uuid,
}

/// Payments for signed-in users.
pub struct PaymentService {
    pub(super) store: Store,
    pub(super) provider: Arc<dyn PaymentProvider>,
    pub(super) bus: Arc<EventBus>,
    /// Reads the inbox's events, by source.
    pub(super) decoders: EventDecoders,
    pub(super) allowed_origins: Vec<String>,
    catalog: Cached<Vec<ProviderPrice>>,
}

pub(super) const CREATE: &str = "payment_intents.create";
pub(super) const REFUND: &str = "refunds.create";
pub(super) const CHECKOUT: &str = "checkout_sessions.create";
pub(super) const PORTAL: &str = "billing_portal_sessions.create";

impl PaymentService {
    /// A service charging through `provider`, announcing changes on `bus`, and applying inbox
    /// events read by `decoders`. Checkout return URLs must be on `allowed_origins`; the catalog
    /// is cached for `catalog_ttl`.
    pub fn new(
        store: Store,
        provider: Arc<dyn PaymentProvider>,
        bus: Arc<EventBus>,
        decoders: EventDecoders,
        allowed_origins: Vec<String>,
        catalog_ttl: std::time::Duration,
    ) -> Self {
        Self {
            store,
            provider,
            bus,
            decoders,
            allowed_origins,
            catalog: Cached::new(catalog_ttl),
        }
    }

    /// The active prices, cached for the configured TTL and served from the cache while the
    /// provider is unavailable.
    pub async fn catalog(&self) -> Result<Arc<Vec<ProviderPrice>>, AppError> {
        let prices = self.all_prices().await?;
        Ok(Arc::new(
            prices.iter().filter(|p| p.active).cloned().collect(),
        ))
    }

    /// Every price the provider lists, archived ones too, from the same cache.
    pub(super) async fn all_prices(&self) -> Result<Arc<Vec<ProviderPrice>>, AppError> {
        self.catalog
            .get_or_fetch(|| self.provider.list_prices())
            .await
            .map_err(|e| self.provider_error(e))
    }

    /// `stripe` or `sandbox`.
    pub fn provider_name(&self) -> &'static str {
        self.provider.name()
    }

    /// Creates a PaymentIntent once per idempotency key.
    pub async fn create_payment_intent(
        &self,
        viewer: &Viewer,
        input: CreateIntent,
        key: &str,
    ) -> Result<CreatedIntent, AppError> {
        check_key(key)?;
        let input = validate::intent(input)?;
        let user = viewer.user_id;
        self.idempotent(
            user,
            CREATE,
            key,
            &fingerprint(&input),
            self.create_fresh(user, &input, key),
            |stored| self.replay_intent(stored),
        )
        .await
    }

    /// Creates a hosted Checkout Session once per idempotency key.
    pub async fn create_checkout_session(
        &self,
        viewer: &Viewer,
        input: CreateCheckout,
        key: &str,
    ) -> Result<CreatedCheckout, AppError> {
        check_key(key)?;
        validate::checkout(&input, &self.allowed_origins)?;
        let user = viewer.user_id;
        self.idempotent(
            user,
            CHECKOUT,
            key,
            &fingerprint(&input),
            self.checkout_fresh(user, input, key),
            |stored| self.replay_checkout(stored),
        )
        .await
    }

    /// Refunds `amount` (everything left when `None`) of a paid payment, once per key.
    pub async fn refund(
        &self,
        viewer: &Viewer,
        payment_id: Uuid,
        amount: Option<i64>,
        key: &str,
    ) -> Result<RefundRow, AppError> {
        check_key(key)?;
        let payment = self
            .visible_payment(viewer, payment_id)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
        let user = viewer.user_id;
        self.idempotent(
            user,
            REFUND,
            key,
            &fingerprint(&(payment_id, amount)),
            self.refund_fresh(user, payment, amount, key),
            |stored| self.replay_refund(payment_id, stored),
        )
        .await
    }

    pub(super) async fn announce(&self, event: &LoggedEvent) {
        self.bus.publish(std::slice::from_ref(event)).await;
    }

    pub(super) fn provider_error(&self, err: ProviderError) -> AppError {
        provider_error(self.provider.name(), err)
    }
}

//! The payment service: what the GraphQL mutations and queries call.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::idempotency::{check_key, fingerprint, provider_key};
use super::{PaymentStatus, money};
use crate::auth::Viewer;
use crate::domain::{Metadata, PaymentEventKind, RefundStatus};
use crate::error::AppError;
use crate::events::EventBus;
use crate::origins::url_on_allowed_origin;
use crate::providers::cache::Cached;
use crate::providers::payments::{
    CheckoutRequest, IntentRequest, PaymentProvider, ProviderPrice, SandboxIntent, SandboxOutcome,
};
use crate::providers::resilience::ProviderError;
use crate::store::{IdempotencyStart, LoggedEvent, PaymentChange, PaymentRow, RefundRow, Store};

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
struct StoredIntent {
    payment_id: Uuid,
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
struct StoredCheckout {
    payment_id: Uuid,
    url: String,
}

/// What an idempotent refund stores to replay.
#[derive(Debug, Serialize, Deserialize)]
struct StoredRefund {
    refund_id: Uuid,
}

/// Payments for signed-in users.
pub struct PaymentService {
    pub(super) store: Store,
    provider: Arc<dyn PaymentProvider>,
    pub(super) bus: Arc<EventBus>,
    allowed_origins: Vec<String>,
    catalog: Cached<Vec<ProviderPrice>>,
}

const CREATE: &str = "payment_intents.create";
const REFUND: &str = "refunds.create";
const CHECKOUT: &str = "checkout_sessions.create";

impl PaymentService {
    /// A service charging through `provider`, announcing changes on `bus`.
    /// Checkout return URLs must be on `allowed_origins`; the catalog is cached for `catalog_ttl`.
    pub fn new(
        store: Store,
        provider: Arc<dyn PaymentProvider>,
        bus: Arc<EventBus>,
        allowed_origins: Vec<String>,
        catalog_ttl: std::time::Duration,
    ) -> Self {
        Self {
            store,
            provider,
            bus,
            allowed_origins,
            catalog: Cached::new(catalog_ttl),
        }
    }

    /// The active prices, cached for the configured TTL and served from the cache while the
    /// provider is unavailable.
    pub async fn catalog(&self) -> Result<Arc<Vec<ProviderPrice>>, AppError> {
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
        let currency = money::currency(&input.currency, "input.currency")?;
        let input = CreateIntent {
            amount: money::amount(input.amount, &currency, "input.amount")?,
            currency,
            description: input
                .description
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty()),
            metadata: input.metadata,
        };
        if input
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 1000)
        {
            return Err(AppError::bad_input(
                "input.description",
                "at most 1000 characters",
            ));
        }
        money::metadata(&input.metadata, "input.metadata")?;
        let user = viewer.user_id;
        match self
            .store
            .begin_idempotent(user, CREATE, key, &fingerprint(&input), Utc::now())
            .await?
        {
            IdempotencyStart::Fresh => {}
            IdempotencyStart::Replay(stored) => return self.replay_intent(&stored).await,
            IdempotencyStart::InFlight => return Err(in_flight()),
            IdempotencyStart::Mismatch => return Err(AppError::IdempotencyKeyReused),
        }
        let result = self.create_fresh(user, &input, key).await;
        if result.is_err() {
            // Nothing was charged (or the provider will dedupe by its key): let the client retry.
            self.store.release_idempotent(user, CREATE, key).await?;
        }
        result
    }

    async fn create_fresh(
        &self,
        user: Uuid,
        input: &CreateIntent,
        key: &str,
    ) -> Result<CreatedIntent, AppError> {
        let customer = self.customer_of(user).await?;
        let request = IntentRequest {
            customer,
            amount: input.amount,
            currency: input.currency.clone(),
            description: input.description.clone(),
            metadata: input.metadata.clone(),
            idempotency_key: provider_key(user, CREATE, key),
        };
        let intent = self
            .provider
            .create_intent(&request)
            .await
            .map_err(|e| self.provider_error(e))?;
        let now = Utc::now();
        let status = PaymentStatus::from_stripe(&intent.status)
            .unwrap_or(PaymentStatus::RequiresPaymentMethod);
        let payment = PaymentRow {
            id: Uuid::now_v7(),
            user_id: user,
            provider: self.provider.name().to_owned(),
            provider_payment_id: intent.id.clone(),
            status,
            amount: input.amount,
            currency: input.currency.clone(),
            amount_refunded: 0,
            description: input.description.clone(),
            metadata: input.metadata.clone().into(),
            created_at: now,
            updated_at: now,
        };
        let event = self.store.insert_payment(&payment).await?;
        self.announce(&event).await;
        let stored = StoredIntent {
            payment_id: payment.id,
        };
        let stored = serde_json::to_string(&stored).map_err(AppError::internal)?;
        self.store
            .complete_idempotent(user, CREATE, key, &stored, Utc::now())
            .await?;
        tracing::info!(payment_id = %payment.id, provider_payment_id = %intent.id, "payment intent created");
        Ok(CreatedIntent {
            payment,
            client_secret: intent.client_secret,
        })
    }

    /// The provider's customer for `user`, created on first need (once, even when requests race).
    async fn customer_of(&self, user: Uuid) -> Result<Option<String>, AppError> {
        let provider = self.provider.name();
        if let Some(id) = self.store.payment_customer(user, provider).await? {
            return Ok(Some(id));
        }
        let email = self.store.user_by_id(user).await?.and_then(|u| u.email);
        let key = provider_key(user, "customers.create", "first");
        let created = self
            .provider
            .create_customer(email.as_deref(), &user.to_string(), &key)
            .await
            .map_err(|e| self.provider_error(e))?;
        match created {
            Some(id) => Ok(Some(
                self.store
                    .save_payment_customer(user, provider, &id, Utc::now())
                    .await?,
            )),
            None => Ok(None),
        }
    }

    /// Creates a hosted Checkout Session once per idempotency key.
    pub async fn create_checkout_session(
        &self,
        viewer: &Viewer,
        input: CreateCheckout,
        key: &str,
    ) -> Result<CreatedCheckout, AppError> {
        check_key(key)?;
        self.check_checkout(&input)?;
        let user = viewer.user_id;
        match self
            .store
            .begin_idempotent(user, CHECKOUT, key, &fingerprint(&input), Utc::now())
            .await?
        {
            IdempotencyStart::Fresh => {}
            IdempotencyStart::Replay(stored) => {
                let stored: StoredCheckout =
                    serde_json::from_str(&stored).map_err(AppError::internal)?;
                let payment = self
                    .store
                    .payment_by_id(stored.payment_id)
                    .await?
                    .ok_or(AppError::NotFound("payment"))?;
                return Ok(CreatedCheckout {
                    payment,
                    url: stored.url,
                });
            }
            IdempotencyStart::InFlight => return Err(in_flight()),
            IdempotencyStart::Mismatch => return Err(AppError::IdempotencyKeyReused),
        }
        let result = self.checkout_fresh(user, input, key).await;
        if result.is_err() {
            self.store.release_idempotent(user, CHECKOUT, key).await?;
        }
        result
    }

    fn check_checkout(&self, input: &CreateCheckout) -> Result<(), AppError> {
        if input.line_items.is_empty() || input.line_items.len() > 100 {
            return Err(AppError::bad_input(
                "input.lineItems",
                "send 1 to 100 line items",
            ));
        }
        for (price, quantity) in &input.line_items {
            if !(1..=255).contains(&price.len())
                || !price
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(AppError::bad_input(
                    "input.lineItems.priceId",
                    format!("{price:?} is not a price id (price_...)"),
                ));
            }
            if !(1..=999).contains(quantity) {
                return Err(AppError::bad_input(
                    "input.lineItems.quantity",
                    "quantity must be from 1 to 999",
                ));
            }
        }
        for (field, url) in [
            ("input.successUrl", &input.success_url),
            ("input.cancelUrl", &input.cancel_url),
        ] {
            if url_on_allowed_origin(&self.allowed_origins, url).is_none() {
                return Err(AppError::bad_input(
                    field,
                    "must be an absolute http(s) URL on an allowed origin (ALLOWED_ORIGINS)",
                ));
            }
        }
        Ok(())
    }

    async fn checkout_fresh(
        &self,
        user: Uuid,
        input: CreateCheckout,
        key: &str,
    ) -> Result<CreatedCheckout, AppError> {
        let request = CheckoutRequest {
            customer: self.customer_of(user).await?,
            line_items: input.line_items,
            success_url: input.success_url,
            cancel_url: input.cancel_url,
            idempotency_key: provider_key(user, CHECKOUT, key),
        };
        let session = self
            .provider
            .create_checkout(&request)
            .await
            .map_err(|e| self.provider_error(e))?
            .ok_or_else(|| AppError::Conflict("hosted Checkout needs Stripe: set STRIPE_SECRET_KEY, or use createPaymentIntent".into()))?;
        let now = Utc::now();
        let payment = PaymentRow {
            id: Uuid::now_v7(),
            user_id: user,
            provider: self.provider.name().to_owned(),
            provider_payment_id: session.id.clone(),
            status: PaymentStatus::RequiresPaymentMethod,
            amount: session.amount_total,
            currency: session.currency.clone(),
            amount_refunded: 0,
            description: None,
            metadata: Metadata::default(),
            created_at: now,
            updated_at: now,
        };
        let event = self.store.insert_payment(&payment).await?;
        self.announce(&event).await;
        let stored = StoredCheckout {
            payment_id: payment.id,
            url: session.url.clone(),
        };
        let stored = serde_json::to_string(&stored).map_err(AppError::internal)?;
        self.store
            .complete_idempotent(user, CHECKOUT, key, &stored, Utc::now())
            .await?;
        Ok(CreatedCheckout {
            payment,
            url: session.url,
        })
    }

    async fn replay_intent(&self, stored: &str) -> Result<CreatedIntent, AppError> {
        let stored: StoredIntent = serde_json::from_str(stored).map_err(AppError::internal)?;
        let payment = self
            .store
            .payment_by_id(stored.payment_id)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
        let client_secret = self
            .provider
            .client_secret(&payment.provider_payment_id)
            .await
            .map_err(|e| self.provider_error(e))?;
        Ok(CreatedIntent {
            payment,
            client_secret,
        })
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
        let request = (payment_id, amount);
        match self
            .store
            .begin_idempotent(
                viewer.user_id,
                REFUND,
                key,
                &fingerprint(&request),
                Utc::now(),
            )
            .await?
        {
            IdempotencyStart::Fresh => {}
            IdempotencyStart::Replay(stored) => {
                let stored: StoredRefund =
                    serde_json::from_str(&stored).map_err(AppError::internal)?;
                let refunds = self.store.refunds_of(&[payment_id]).await?;
                return refunds
                    .into_iter()
                    .find(|r| r.id == stored.refund_id)
                    .ok_or(AppError::NotFound("refund"));
            }
            IdempotencyStart::InFlight => return Err(in_flight()),
            IdempotencyStart::Mismatch => return Err(AppError::IdempotencyKeyReused),
        }
        let result = self
            .refund_fresh(viewer.user_id, payment, amount, key)
            .await;
        if result.is_err() {
            self.store
                .release_idempotent(viewer.user_id, REFUND, key)
                .await?;
        }
        result
    }

    async fn refund_fresh(
        &self,
        user: Uuid,
        payment: PaymentRow,
        amount: Option<i64>,
        key: &str,
    ) -> Result<RefundRow, AppError> {
        let status = payment.status;
        if !status.is_paid() {
            return Err(AppError::Conflict(format!(
                "only paid payments can be refunded; this one is {}",
                status.as_str()
            )));
        }
        let left = payment.amount - payment.amount_refunded;
        let amount = amount.unwrap_or(left);
        if amount < 1 || amount > left {
            return Err(AppError::bad_input(
                "amount",
                format!("refund between 1 and {left} (what is left to refund)"),
            ));
        }
        let refund = self
            .provider
            .refund(
                &payment.provider_payment_id,
                amount,
                &provider_key(user, REFUND, key),
            )
            .await
            .map_err(|e| self.provider_error(e))?;
        let row = RefundRow {
            id: Uuid::now_v7(),
            payment_id: payment.id,
            provider_refund_id: refund.id,
            amount: refund.amount,
            status: RefundStatus::from(refund.status.as_str()),
            created_at: Utc::now(),
        };
        self.store.insert_refund(&row).await?;
        self.record_refund(payment.id, row.amount, None).await?;
        let stored = serde_json::to_string(&StoredRefund { refund_id: row.id })
            .map_err(AppError::internal)?;
        self.store
            .complete_idempotent(user, REFUND, key, &stored, Utc::now())
            .await?;
        Ok(row)
    }

    /// Adds `amount` to a payment's refunded total, retrying if it changes meanwhile.
    pub(super) async fn record_refund(
        &self,
        payment_id: Uuid,
        amount: i64,
        source_event_id: Option<String>,
    ) -> Result<(), AppError> {
        for _ in 0..5 {
            let payment = self
                .store
                .payment_by_id(payment_id)
                .await?
                .ok_or(AppError::NotFound("payment"))?;
            let refunded = (payment.amount_refunded + amount).min(payment.amount);
            let status = if refunded >= payment.amount {
                PaymentStatus::Refunded
            } else {
                PaymentStatus::PartiallyRefunded
            };
            let change = PaymentChange {
                payment_id,
                user_id: payment.user_id,
                from_status: payment.status,
                from_refunded: payment.amount_refunded,
                status,
                amount_refunded: refunded,
                kind: PaymentEventKind::Refund,
                source_event_id: source_event_id.clone(),
            };
            if let Some(event) = self.store.apply_payment_change(&change, Utc::now()).await? {
                self.announce(&event).await;
                return Ok(());
            }
        }
        Err(AppError::Conflict(
            "the payment kept changing; try again".into(),
        ))
    }

    /// The payment if the viewer may see it (its owner, or an admin).
    pub async fn visible_payment(
        &self,
        viewer: &Viewer,
        id: Uuid,
    ) -> Result<Option<PaymentRow>, AppError> {
        let payment = self.store.payment_by_id(id).await?;
        Ok(payment.filter(|p| viewer.may_see_owned_by(p.user_id)))
    }

    /// The viewer's payments, newest first.
    pub async fn payments(
        &self,
        viewer: &Viewer,
        status: Option<PaymentStatus>,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, AppError> {
        Ok(self
            .store
            .payments_of_user(viewer.user_id, status, before, limit)
            .await?)
    }

    /// The viewer's payments newer than `after` (all when `None`), oldest first: the page
    /// before a cursor in the newest-first list.
    pub async fn payments_ascending(
        &self,
        viewer: &Viewer,
        status: Option<PaymentStatus>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, AppError> {
        Ok(self
            .store
            .payments_of_user_ascending(viewer.user_id, status, after, limit)
            .await?)
    }

    /// How many payments the viewer has, optionally only of one status.
    pub async fn count_payments(
        &self,
        viewer: &Viewer,
        status: Option<PaymentStatus>,
    ) -> Result<i64, AppError> {
        Ok(self
            .store
            .count_payments_of_user(viewer.user_id, status)
            .await?)
    }

    /// A refund the viewer may see: one of a payment they may see.
    pub async fn visible_refund(
        &self,
        viewer: &Viewer,
        id: Uuid,
    ) -> Result<Option<RefundRow>, AppError> {
        let Some(refund) = self.store.refund_by_id(id).await? else {
            return Ok(None);
        };
        Ok(self
            .visible_payment(viewer, refund.payment_id)
            .await?
            .map(|_| refund))
    }

    /// Drives one of the viewer's sandbox payments to `outcome`, as its payer would; the change
    /// arrives like any provider event. A decline also answers `PAYMENT_DECLINED` with the
    /// reason, as confirming with a declined card does.
    pub async fn drive_sandbox_payment(
        &self,
        viewer: &Viewer,
        id: Uuid,
        outcome: SandboxOutcome,
    ) -> Result<PaymentRow, AppError> {
        let payment = self
            .visible_payment(viewer, id)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
        let status = payment.status;
        if !status.is_open() {
            return Err(AppError::Conflict(format!(
                "the payment is {}; only a payment waiting for its payer can be confirmed",
                status.as_str()
            )));
        }
        let intent = SandboxIntent {
            id: &payment.provider_payment_id,
            amount: payment.amount,
            currency: &payment.currency,
        };
        if !self.provider.drive(&intent, &outcome) {
            return Err(AppError::Forbidden(format!(
                "only sandbox payments can be confirmed this way; this server uses {}",
                self.provider.name()
            )));
        }
        if let SandboxOutcome::Decline(code) = outcome {
            return Err(AppError::PaymentDeclined {
                message: decline_message(Some(&code), "the sandbox declined the card"),
                decline_code: Some(code),
            });
        }
        Ok(payment)
    }

    /// Refunds of many payments at once.
    pub async fn refunds_of(&self, payment_ids: &[Uuid]) -> Result<Vec<RefundRow>, AppError> {
        Ok(self.store.refunds_of(payment_ids).await?)
    }

    pub(super) async fn announce(&self, event: &LoggedEvent) {
        self.bus.publish(std::slice::from_ref(event)).await;
    }

    fn provider_error(&self, err: ProviderError) -> AppError {
        provider_error(self.provider.name(), err)
    }
}

fn in_flight() -> AppError {
    AppError::Conflict(
        "a request with this idempotency key is still being handled; retry in a moment".into(),
    )
}

/// What a payer or client sees for a provider failure.
pub(super) fn provider_error(provider: &str, err: ProviderError) -> AppError {
    match err {
        ProviderError::Permanent {
            status: Some(402),
            code,
            message,
        } => AppError::PaymentDeclined {
            message: decline_message(code.as_deref(), &message),
            decline_code: code,
        },
        ProviderError::Permanent {
            status,
            code,
            message,
        } => {
            // Our request was wrong or our credentials are: a bug or a misconfiguration.
            tracing::error!(
                provider,
                ?status,
                ?code,
                message,
                "payment provider refused our request"
            );
            AppError::internal(anyhow::anyhow!("{provider} refused the request: {message}"))
        }
        other => AppError::ProviderUnavailable {
            provider: provider.to_owned(),
            retry_after: other.retry_hint(),
        },
    }
}

/// A decline reason in plain words.
fn decline_message(code: Option<&str>, fallback: &str) -> String {
    match code {
        Some("insufficient_funds") => "The card has insufficient funds. Try another card.".into(),
        Some("expired_card") => "The card has expired. Try another card.".into(),
        Some("incorrect_cvc") => "The card's security code is incorrect.".into(),
        Some("card_declined") | Some("generic_decline") => {
            "The card was declined. Try another card or contact the bank.".into()
        }
        _ => format!("The payment was declined: {fallback}"),
    }
}

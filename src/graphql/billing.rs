//! Subscriptions (Stripe Billing) in the schema: `subscribe`, `changeSubscriptionPlan`,
//! `cancelSubscription`, `resumeSubscription`, `mySubscriptions`, delta sync of their events
//! (`subscriptionEvents`) and the live `subscriptionUpdated`.
//!
//! The object type is `BillingSubscription`: `Subscription` is GraphQL's root subscription type.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::events::page_cost;
use super::kinds::PaymentProvider;
use super::payments::Price;
use super::types::DateTime;
use super::{SchemaDeps, cursor, viewer_state};
use crate::domain::SubscriptionStatus;
use crate::error::AppError;
use crate::events::Start;
use crate::payments::page::{fetch_page, page_size};
use crate::payments::{CustomerAccessRequest, PlanChoice};
use crate::store::{SubscriptionEventRow, SubscriptionRow};

/// Cursor kind of subscription events (positions in the one event log).
const KIND: &str = "se";
/// Largest page of `subscriptionEvents`.
const MAX_PAGE: i32 = 500;

/// Parses a subscription id argument.
fn subscription_id(id: &ID, field: &str) -> Result<Uuid, AppError> {
    id.parse()
        .map_err(|_| AppError::bad_input(field, "not a subscription id"))
}

/// A recurring payment for a price of the catalog.
pub struct BillingSubscription(pub SubscriptionRow);

/// A recurring payment for a price of the catalog.
#[Object]
impl BillingSubscription {
    /// Opaque id.
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Where the subscription is.
    async fn status(&self) -> SubscriptionStatus {
        self.0.status
    }

    /// What is billed.
    async fn plan(&self) -> SubscriptionPlan {
        SubscriptionPlan {
            price_id: self.0.price_id.clone(),
            quantity: self.0.quantity,
        }
    }

    /// End of the period paid for; the next renewal (or the end, when cancelling at period end).
    async fn current_period_end(&self) -> Option<DateTime> {
        self.0.current_period_end.map(Into::into)
    }

    /// Whether the subscription ends at `currentPeriodEnd` (`resumeSubscription` takes it back).
    async fn cancel_at_period_end(&self) -> bool {
        self.0.cancel_at_period_end
    }

    /// The newest invoice, when one is known.
    async fn latest_invoice(&self) -> Option<SubscriptionInvoice> {
        let row = &self.0;
        row.latest_invoice_id.as_ref()?;
        Some(SubscriptionInvoice {
            amount_due: row.latest_invoice_amount_due.unwrap_or_default(),
            currency: row
                .latest_invoice_currency
                .as_deref()
                .map(str::to_ascii_uppercase),
            status: row.latest_invoice_status.clone(),
            hosted_invoice_url: row.latest_invoice_url.clone(),
        })
    }

    /// The provider that bills it.
    async fn provider(&self) -> PaymentProvider {
        PaymentProvider::from(self.0.provider.as_str())
    }

    /// The provider's id (`sub_...` for Stripe), to correlate with its dashboard.
    async fn provider_subscription_id(&self) -> &str {
        &self.0.provider_subscription_id
    }

    /// Created.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// Last changed.
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

/// The price a subscription bills, and how many units of it.
pub struct SubscriptionPlan {
    price_id: String,
    quantity: i64,
}

/// The price a subscription bills, and how many units of it.
#[Object]
impl SubscriptionPlan {
    /// The recurring price (`price_...`).
    async fn price_id(&self) -> &str {
        &self.price_id
    }

    /// Units billed.
    async fn quantity(&self) -> i64 {
        self.quantity
    }

    /// The price from the catalog; null when the catalog no longer lists it.
    async fn price(&self, ctx: &Context<'_>) -> Result<Option<Price>, AppError> {
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let catalog = payments.catalog().await?;
        Ok(catalog
            .iter()
            .find(|p| p.id == self.price_id)
            .map(|p| Price {
                id: ID(p.id.clone()),
                product: p.product.clone(),
                unit_amount: p.unit_amount,
                currency: p.currency.to_ascii_uppercase(),
                interval: p.interval.clone(),
            }))
    }
}

/// A subscription's invoice.
#[derive(SimpleObject)]
pub struct SubscriptionInvoice {
    /// Minor units.
    pub amount_due: i64,
    /// ISO-4217 code, upper case.
    pub currency: Option<String>,
    /// As the provider names it: `draft`, `open`, `paid`, `void` or `uncollectible`.
    pub status: Option<String>,
    /// The provider's page to see (and pay) the invoice.
    pub hosted_invoice_url: Option<String>,
}

/// What to subscribe to.
#[derive(InputObject)]
pub struct SubscribeInput {
    /// A recurring price of the catalog (`price_...`).
    pub price_id: String,
    /// From 1 to 999.
    #[graphql(default = 1)]
    pub quantity: u32,
}

/// A created subscription.
#[derive(SimpleObject)]
pub struct SubscribePayload {
    /// The recorded subscription; `INCOMPLETE` until its first invoice is paid.
    pub subscription: BillingSubscription,
    /// Confirm the first invoice's payment with it on the client, as for a one-off payment
    /// (Stripe.js `confirmPayment`, PaymentSheet); null when there is nothing to pay.
    pub client_secret: Option<String>,
    /// The user's customer (`cus_...`), with `ephemeralKey: true`; null otherwise and with the
    /// sandbox, which has no customers.
    pub customer_id: Option<String>,
    /// A fresh ephemeral key for PaymentSheet, with `ephemeralKey: true`; null otherwise and
    /// with the sandbox. Short-lived: a replay mints a new one.
    pub ephemeral_key_secret: Option<String>,
}

/// One change to a subscription, in the order of the event log. Resume after `cursor`.
pub struct SubscriptionEvent(pub Arc<SubscriptionEventRow>);

/// One change to a subscription, in the order of the event log. Resume after `cursor`.
#[Object]
impl SubscriptionEvent {
    /// Pass to `after` to continue after this event.
    async fn cursor(&self) -> String {
        cursor::encode(KIND, self.0.cursor)
    }

    /// Position within the subscription's history, from 1.
    async fn sequence(&self) -> i32 {
        self.0.sequence
    }

    /// What happened: `created`, `plan_changed`, `cancellation_scheduled`, `resumed`,
    /// `canceled`, or the provider's event type (`invoice.paid`, `customer.subscription.updated`).
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    /// The subscription's status after this change.
    async fn status(&self) -> SubscriptionStatus {
        self.0.status
    }

    /// The subscription's id.
    async fn subscription_id(&self) -> ID {
        ID(self.0.subscription_id.to_string())
    }

    /// The subscription as it is now (which may be later than this event).
    async fn subscription(&self, ctx: &Context<'_>) -> Result<BillingSubscription, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        payments
            .visible_subscription(viewer, self.0.subscription_id)
            .await?
            .map(BillingSubscription)
            .ok_or(AppError::NotFound("subscription"))
    }

    /// When the change was applied.
    async fn occurred_at(&self) -> DateTime {
        self.0.occurred_at.into()
    }
}

/// Subscription queries.
#[derive(Default)]
pub struct BillingQuery;

/// Subscription queries.
#[Object]
impl BillingQuery {
    /// The signed-in user's subscriptions, newest first.
    async fn my_subscriptions(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<BillingSubscription>, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        Ok(payments
            .my_subscriptions(viewer)
            .await?
            .into_iter()
            .map(BillingSubscription)
            .collect())
    }

    /// Delta sync: the signed-in user's subscription events after `after`, oldest first; then
    /// subscribe to `subscriptionUpdated` from the last cursor.
    #[graphql(complexity = "page_cost(first.unwrap_or(100), MAX_PAGE, child_complexity)")]
    async fn subscription_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        #[graphql(default = 100)] first: Option<i32>,
    ) -> Result<Connection<String, SubscriptionEvent>, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let size = page_size(first.unwrap_or(100), MAX_PAGE, "first")?;
        let after = after
            .as_deref()
            .map(|c| cursor::decode(KIND, c, "after"))
            .transpose()?
            .unwrap_or(0);
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let page = fetch_page(size, |limit| {
            payments.my_subscription_events_after(viewer, after, limit)
        })
        .await?;
        let mut connection = Connection::new(after > 0, page.has_more);
        connection.edges.extend(page.items.into_iter().map(|row| {
            Edge::new(
                cursor::encode(KIND, row.cursor),
                SubscriptionEvent(Arc::new(row)),
            )
        }));
        Ok(connection)
    }
}

/// Subscription mutations.
#[derive(Default)]
pub struct BillingMutation;

/// Subscription mutations.
#[Object]
impl BillingMutation {
    /// Subscribes the signed-in user to a recurring price. Confirm the returned `clientSecret`
    /// on the client like a one-off payment; the subscription turns `ACTIVE` when its first
    /// invoice is paid. Idempotent per `idempotencyKey`, like payments. With `ephemeralKey:
    /// true` the payload also carries `customerId` and a fresh `ephemeralKeySecret` for
    /// PaymentSheet, at the mobile SDK's `stripeApiVersion` (the server's when omitted).
    async fn subscribe(
        &self,
        ctx: &Context<'_>,
        input: SubscribeInput,
        idempotency_key: String,
        #[graphql(default = false)] ephemeral_key: bool,
        stripe_api_version: Option<String>,
    ) -> Result<SubscribePayload, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let asked =
            CustomerAccessRequest::from_arguments(ephemeral_key, stripe_api_version.as_deref())?;
        let choice = PlanChoice {
            price_id: input.price_id,
            quantity: input.quantity,
        };
        let subscribed = payments.subscribe(viewer, choice, &idempotency_key).await?;
        let (customer_id, ephemeral_key_secret) =
            super::cards::customer_access(payments, viewer, asked).await?;
        Ok(SubscribePayload {
            subscription: BillingSubscription(subscribed.subscription),
            client_secret: subscribed.client_secret,
            customer_id,
            ephemeral_key_secret,
        })
    }

    /// Moves a subscription to another recurring price or quantity; the provider prorates the
    /// current period. Idempotent per `idempotencyKey`.
    async fn change_subscription_plan(
        &self,
        ctx: &Context<'_>,
        id: ID,
        price_id: String,
        #[graphql(default = 1)] quantity: u32,
        idempotency_key: String,
    ) -> Result<BillingSubscription, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let id = subscription_id(&id, "id")?;
        let choice = PlanChoice { price_id, quantity };
        let row = payments
            .change_subscription_plan(viewer, id, choice, &idempotency_key)
            .await?;
        Ok(BillingSubscription(row))
    }

    /// Cancels a subscription at the end of its period (default; it stays in force until then)
    /// or now (`atPeriodEnd: false`). Idempotent per `idempotencyKey`.
    async fn cancel_subscription(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = true)] at_period_end: bool,
        idempotency_key: String,
    ) -> Result<BillingSubscription, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let id = subscription_id(&id, "id")?;
        let row = payments
            .cancel_subscription(viewer, id, at_period_end, &idempotency_key)
            .await?;
        Ok(BillingSubscription(row))
    }

    /// Takes back a cancellation at period end. Idempotent per `idempotencyKey`.
    async fn resume_subscription(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: String,
    ) -> Result<BillingSubscription, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let id = subscription_id(&id, "id")?;
        let row = payments
            .resume_subscription(viewer, id, &idempotency_key)
            .await?;
        Ok(BillingSubscription(row))
    }
}

/// `subscriptionUpdated`: the viewer's subscription events after `after` (or from now on), then
/// live, with no gap and no duplicate.
pub(super) async fn subscription_updated(
    ctx: &Context<'_>,
    after: Option<String>,
) -> Result<impl Stream<Item = Result<SubscriptionEvent, AppError>> + use<>, AppError> {
    let viewer = viewer_state(ctx).require()?;
    let start = match after.as_deref() {
        Some(c) => Start::After(cursor::decode(KIND, c, "after")?),
        None => Start::Now,
    };
    let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
    let events = payments.my_subscription_feed(viewer, start).await?;
    Ok(events.map(|item| item.map(SubscriptionEvent).map_err(AppError::from)))
}

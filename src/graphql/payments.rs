//! Payments in the schema.

use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use uuid::Uuid;

use super::kinds::{PaymentProvider, RefundStatus};
use super::loaders::{LineItemsLoader, RefundsLoader, UsersLoader};
use super::types::{DateTime, User};
use super::{SchemaDeps, cursor, viewer_state};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::payments::page::{fetch_page, page_size};
use crate::payments::{CreateCheckout, CreateIntent, CustomerAccessRequest, PaymentStatus};
use crate::providers::payments;
use crate::store::{PaymentRow, RefundRow};

/// Cursor kind of payment lists.
const KIND: &str = "pay";

/// Parses a payment id argument.
pub fn payment_id(id: &ID, field: &str) -> Result<Uuid, AppError> {
    id.parse()
        .map_err(|_| AppError::bad_input(field, "not a payment id"))
}

/// A payment.
pub struct Payment(pub PaymentRow);

/// A payment.
#[Object]
impl Payment {
    /// Opaque id.
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Where the payment is.
    async fn status(&self) -> PaymentStatus {
        self.0.status
    }

    /// Amount in minor units of `currency` (cents for USD, yen for JPY).
    async fn amount(&self) -> i64 {
        self.0.amount
    }

    /// ISO-4217 code, upper case.
    async fn currency(&self) -> String {
        self.0.currency.to_ascii_uppercase()
    }

    /// Refunded so far, in minor units.
    async fn amount_refunded(&self) -> i64 {
        self.0.amount_refunded
    }

    /// Statement/receipt description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The provider that holds the payment.
    async fn provider(&self) -> PaymentProvider {
        PaymentProvider::from(self.0.provider.as_str())
    }

    /// The provider's id (`pi_...` for Stripe), to correlate with its dashboard.
    async fn provider_payment_id(&self) -> &str {
        &self.0.provider_payment_id
    }

    /// Client metadata.
    async fn metadata(&self) -> Vec<MetadataEntry> {
        self.0
            .metadata
            .0
            .iter()
            .map(|(key, value)| MetadataEntry {
                key: key.clone(),
                value: value.clone(),
            })
            .collect()
    }

    /// Who pays.
    async fn owner(&self, ctx: &Context<'_>) -> Result<User, AppError> {
        let loader = ctx.data_unchecked::<DataLoader<UsersLoader>>();
        let owner = loader
            .load_one(self.0.user_id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        Ok(User(owner))
    }

    /// Refunds, oldest first.
    async fn refunds(&self, ctx: &Context<'_>) -> Result<Vec<Refund>, AppError> {
        let loader = ctx.data_unchecked::<DataLoader<RefundsLoader>>();
        Ok(loader
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Refund)
            .collect())
    }

    /// What was sold, at the prices charged, for a payment created from catalog `lineItems`;
    /// empty for a client-chosen amount and for Checkout Sessions. Fulfil from this.
    async fn line_items(&self, ctx: &Context<'_>) -> Result<Vec<PaymentLineItem>, AppError> {
        let loader = ctx.data_unchecked::<DataLoader<LineItemsLoader>>();
        Ok(loader
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|line| PaymentLineItem {
                price_id: ID(line.price_id),
                quantity: line.quantity,
                unit_amount: line.unit_amount,
            })
            .collect())
    }

    /// Why the last attempt to pay failed, to show the payer; null when none failed or a later
    /// one succeeded. Filled from the provider's failure reports (e.g. a card declined at
    /// client-side confirmation).
    async fn last_error(&self) -> Option<PaymentError> {
        let error = &self.0.last_error;
        (!error.is_empty()).then(|| PaymentError {
            code: error.code.clone(),
            decline_code: error.decline_code.clone(),
            message: error
                .message
                .clone()
                .unwrap_or_else(|| "The payment attempt failed.".into()),
        })
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

/// One line of a payment priced from the catalog.
#[derive(SimpleObject)]
pub struct PaymentLineItem {
    /// The catalog price (`price_...`).
    pub price_id: ID,
    /// Units bought.
    pub quantity: i64,
    /// Minor units per unit, as charged.
    pub unit_amount: i64,
}

/// Why a payment attempt failed.
#[derive(SimpleObject)]
pub struct PaymentError {
    /// The provider's error code, e.g. `card_declined`, `expired_card`.
    code: Option<String>,
    /// The card network's reason when the card was declined, e.g. `insufficient_funds`.
    decline_code: Option<String>,
    /// What to tell the payer, safe to show as is (at most a couple of hundred characters).
    message: String,
}

/// A refund of (part of) a payment.
pub struct Refund(pub RefundRow);

/// A refund of (part of) a payment.
#[Object]
impl Refund {
    /// Opaque id.
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Minor units.
    async fn amount(&self) -> i64 {
        self.0.amount
    }

    /// Where the refund is, as the provider reports it.
    async fn status(&self) -> RefundStatus {
        RefundStatus::from(&self.0.status)
    }

    /// The provider's id (`re_...`).
    async fn provider_refund_id(&self) -> &str {
        &self.0.provider_refund_id
    }

    /// Created.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

/// One metadata entry.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "MetadataEntryInput")]
pub struct MetadataEntry {
    /// 1-40 characters.
    pub key: String,
    /// Up to 500 characters.
    pub value: String,
}

/// What to charge: `lineItems` from the catalog (the server computes the amount and
/// currency), or `amount` and `currency` where the server allows client-chosen amounts
/// (`PAYMENTS_ALLOW_CUSTOM_AMOUNT`; otherwise `CUSTOM_AMOUNT_NOT_ALLOWED`). Exactly one of the two.
#[derive(InputObject)]
pub struct PaymentIntentInput {
    /// Catalog prices (one-time, one currency) and quantities; up to 100 lines.
    pub line_items: Option<Vec<LineItemInput>>,
    /// Minor units of `currency` (e.g. 1999 for USD 19.99, 500 for JPY 500), when the server
    /// allows client-chosen amounts.
    pub amount: Option<i64>,
    /// ISO-4217 code, e.g. `usd`; only with `amount`.
    pub currency: Option<String>,
    /// Shown on statements and receipts.
    pub description: Option<String>,
    /// Up to 50 entries.
    #[graphql(default)]
    pub metadata: Vec<MetadataEntry>,
}

/// One line of a payment or Checkout Session: a catalog price and how many.
#[derive(InputObject)]
pub struct LineItemInput {
    /// A Stripe price id (`price_...`).
    pub price_id: String,
    /// From 1 to 999.
    pub quantity: u32,
}

/// What to sell through Stripe's hosted Checkout page.
#[derive(InputObject)]
pub struct CheckoutInput {
    /// Up to 100 lines.
    pub line_items: Vec<LineItemInput>,
    /// Where Stripe sends the payer after paying; must be on an allowed origin.
    pub success_url: String,
    /// Where Stripe sends the payer after giving up; must be on an allowed origin.
    pub cancel_url: String,
}

/// A created Checkout Session.
#[derive(SimpleObject)]
pub struct CheckoutSessionPayload {
    /// The recorded payment; it moves to `SUCCEEDED` when Stripe reports the session paid.
    pub payment: Payment,
    /// The payment as an edge of `payments`, to prepend to a cached connection.
    pub payment_edge: Edge<PaymentCursor, Payment, EmptyFields>,
    /// Send the browser here.
    pub url: String,
}

/// A created PaymentIntent.
#[derive(SimpleObject)]
pub struct PaymentIntentPayload {
    /// The recorded payment.
    pub payment: Payment,
    /// The payment as an edge of `payments`, to prepend to a cached connection.
    pub payment_edge: Edge<PaymentCursor, Payment, EmptyFields>,
    /// Confirm the payment on the client with it (Stripe.js `confirmPayment`, PaymentSheet).
    pub client_secret: String,
    /// The user's customer (`cus_...`) for PaymentSheet, with `ephemeralKey: true`; null
    /// otherwise and with the sandbox, which has no customers.
    pub customer_id: Option<String>,
    /// A fresh ephemeral key for PaymentSheet, with `ephemeralKey: true`; null otherwise and
    /// with the sandbox. Short-lived: a replay mints a new one.
    pub ephemeral_key_secret: Option<String>,
}

/// A price customers can buy.
#[derive(SimpleObject)]
pub struct Price {
    /// The id to put in a Checkout line item (`price_...`).
    pub id: ID,
    /// What is sold.
    pub product: Option<String>,
    /// Minor units per unit.
    pub unit_amount: i64,
    /// ISO-4217 code, upper case.
    pub currency: String,
    /// `month`, `year`... for subscriptions; null for one-time prices.
    pub interval: Option<String>,
}

/// What the sandbox payer does.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum SandboxOutcome {
    /// Pays: the payment succeeds.
    Succeed,
    /// The card is declined: the payment returns to `REQUIRES_PAYMENT_METHOD`.
    Decline,
    /// The bank asks for 3-D Secure: the payment waits in `REQUIRES_ACTION`.
    RequireAction,
}

/// Payment queries.
#[derive(Default)]
pub struct PaymentsQuery;

/// Payment queries.
#[Object]
impl PaymentsQuery {
    /// The active prices, cached and served from the cache while the payment provider is down.
    async fn catalog(&self, ctx: &Context<'_>) -> Result<Vec<Price>, AppError> {
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        Ok(payments
            .catalog()
            .await?
            .iter()
            .map(|p| Price {
                id: ID(p.id.clone()),
                product: p.product.clone(),
                unit_amount: p.unit_amount,
                currency: p.currency.to_ascii_uppercase(),
                interval: p.interval.clone(),
            })
            .collect())
    }

    /// One of the signed-in user's payments (any payment for admins); null if there is none.
    async fn payment(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Payment>, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        Ok(payments
            .visible_payment(viewer, payment_id(&id, "id")?)
            .await?
            .map(Payment))
    }

    /// The signed-in user's payments, newest first. Page forward with `first` (default 20)
    /// and `after`, or backward with `last` and `before`; at most 100 per page.
    #[graphql(
        complexity = "super::events::page_cost(first.or(last).unwrap_or(20), 100, child_complexity)"
    )]
    async fn payments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        status: Option<PaymentStatus>,
    ) -> Result<Connection<PaymentCursor, Payment, PaymentsTotal>, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let page = PageRequest::read(first, after.as_deref(), last, before.as_deref())?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let (rows, has_previous, has_next) = if page.backward {
            let mut fetched = fetch_page(page.size, |limit| {
                payments.payments_ascending(viewer, status, page.cursor, limit)
            })
            .await?;
            fetched.items.reverse();
            (fetched.items, fetched.has_more, page.cursor.is_some())
        } else {
            let fetched = fetch_page(page.size, |limit| {
                payments.payments(viewer, status, page.cursor, limit)
            })
            .await?;
            (fetched.items, page.cursor.is_some(), fetched.has_more)
        };
        let total = PaymentsTotal {
            viewer: viewer.clone(),
            status,
        };
        let mut connection = Connection::with_additional_fields(has_previous, has_next, total);
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(PaymentCursor(row.id), Payment(row))),
        );
        Ok(connection)
    }
}

/// One page of a newest-first list, as `first`/`after` or `last`/`before` ask for it.
struct PageRequest {
    size: usize,
    cursor: Option<Uuid>,
    /// `last`/`before`: the page ends at the cursor instead of starting after it.
    backward: bool,
}

impl PageRequest {
    fn read(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> Result<Self, AppError> {
        let backward = last.is_some() || before.is_some();
        if backward && (first.is_some() || after.is_some()) {
            return Err(AppError::bad_input(
                "last",
                "page forward with first/after or backward with last/before, not both",
            ));
        }
        let (name, size) = if backward {
            ("last", last.unwrap_or(20))
        } else {
            ("first", first.unwrap_or(20))
        };
        let size = page_size(size, 100, name)?;
        let (cursor_name, cursor) = if backward {
            ("before", before)
        } else {
            ("after", after)
        };
        let cursor = cursor
            .map(|c| decode_payment_cursor(c, cursor_name))
            .transpose()?;
        Ok(Self {
            size,
            cursor,
            backward,
        })
    }
}

/// A payment as an edge of the `payments` connection.
fn payment_edge(payment: &PaymentRow) -> Edge<PaymentCursor, Payment, EmptyFields> {
    Edge::new(PaymentCursor(payment.id), Payment(payment.clone()))
}

/// The total behind a `payments` connection, counted only when asked for.
pub struct PaymentsTotal {
    viewer: Viewer,
    status: Option<PaymentStatus>,
}

/// The total behind a `payments` connection, counted only when asked for.
#[Object]
impl PaymentsTotal {
    /// How many payments the list holds in all (with its `status` filter), across pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64, AppError> {
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        payments.count_payments(&self.viewer, self.status).await
    }
}

/// Payments are listed by id (UUID v7, so by creation): the cursor carries the id.
/// A position in the `payments` list. Encoded only when a client selects a cursor: a page of
/// twenty spent a fiftieth of its instructions encoding cursors nobody asked for.
pub struct PaymentCursor(Uuid);

impl CursorType for PaymentCursor {
    type Error = AppError;

    fn decode_cursor(raw: &str) -> Result<Self, AppError> {
        decode_payment_cursor(raw, "after").map(Self)
    }

    fn encode_cursor(&self) -> String {
        encode_payment_cursor(self.0)
    }
}

fn encode_payment_cursor(id: Uuid) -> String {
    cursor::encode_text(KIND, &id.simple().to_string())
}

fn decode_payment_cursor(raw: &str, field: &str) -> Result<Uuid, AppError> {
    let text = cursor::decode_text(KIND, raw, field)?;
    Uuid::parse_str(&text).map_err(|_| cursor::invalid(field))
}

/// Payment mutations.
#[derive(Default)]
pub struct PaymentsMutation;

/// Payment mutations.
#[Object]
impl PaymentsMutation {
    /// Creates a PaymentIntent for the signed-in user. Send the same `idempotencyKey` when
    /// retrying (after a timeout, when back online): the payment is created once, and the same
    /// answer returns. A key reused for a different request fails with `IDEMPOTENCY_KEY_REUSED`.
    /// With `ephemeralKey: true` the payload also carries `customerId` and
    /// `ephemeralKeySecret` for PaymentSheet; `stripeApiVersion` is the mobile SDK's Stripe API
    /// version (e.g. `2024-06-20`; the server's when omitted). Neither is part of the request
    /// the key remembers: a replay mints a new ephemeral key.
    async fn create_payment_intent(
        &self,
        ctx: &Context<'_>,
        input: PaymentIntentInput,
        idempotency_key: String,
        #[graphql(default = false)] ephemeral_key: bool,
        stripe_api_version: Option<String>,
    ) -> Result<PaymentIntentPayload, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let asked =
            CustomerAccessRequest::from_arguments(ephemeral_key, stripe_api_version.as_deref())?;
        let metadata = input
            .metadata
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect();
        let request = CreateIntent {
            amount: input.amount,
            currency: input.currency,
            description: input.description,
            metadata,
            line_items: input.line_items.map(|lines| {
                lines
                    .into_iter()
                    .map(|l| (l.price_id, l.quantity))
                    .collect()
            }),
        };
        let created = payments
            .create_payment_intent(viewer, request, &idempotency_key)
            .await?;
        let (customer_id, ephemeral_key_secret) =
            super::cards::customer_access(payments, viewer, asked).await?;
        Ok(PaymentIntentPayload {
            payment_edge: payment_edge(&created.payment),
            payment: Payment(created.payment),
            client_secret: created.client_secret,
            customer_id,
            ephemeral_key_secret,
        })
    }

    /// Creates a Stripe Checkout Session (a hosted payment page) for the signed-in user; send
    /// the browser to `url`. Idempotent per `idempotencyKey`, like payments. Needs Stripe.
    async fn create_checkout_session(
        &self,
        ctx: &Context<'_>,
        input: CheckoutInput,
        idempotency_key: String,
    ) -> Result<CheckoutSessionPayload, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let request = CreateCheckout {
            line_items: input
                .line_items
                .into_iter()
                .map(|l| (l.price_id, l.quantity))
                .collect(),
            success_url: input.success_url,
            cancel_url: input.cancel_url,
        };
        let created = payments
            .create_checkout_session(viewer, request, &idempotency_key)
            .await?;
        Ok(CheckoutSessionPayload {
            payment_edge: payment_edge(&created.payment),
            payment: Payment(created.payment),
            url: created.url,
        })
    }

    /// Development only: confirms one of your sandbox payments as its payer would, so screens
    /// for success, 3-D Secure and declines can be built against the sandbox. The status
    /// change arrives like any provider event (`paymentUpdated`, `paymentEvents`); `DECLINE`
    /// also answers `PAYMENT_DECLINED` with `declineCode` (default `generic_decline`). A
    /// payment whose description contains `manual` waits for this; others stop their script.
    async fn sandbox_confirm_payment(
        &self,
        ctx: &Context<'_>,
        payment_id: ID,
        outcome: SandboxOutcome,
        decline_code: Option<String>,
    ) -> Result<Payment, AppError> {
        let deps = ctx.data_unchecked::<SchemaDeps>();
        if deps.production {
            return Err(AppError::Forbidden(
                "sandboxConfirmPayment is only available in development".into(),
            ));
        }
        let viewer = viewer_state(ctx).require()?;
        let id = self::payment_id(&payment_id, "paymentId")?;
        let outcome = match outcome {
            SandboxOutcome::Succeed => payments::SandboxOutcome::Succeed,
            SandboxOutcome::RequireAction => payments::SandboxOutcome::RequireAction,
            SandboxOutcome::Decline => payments::SandboxOutcome::Decline(
                decline_code.unwrap_or_else(|| "generic_decline".to_owned()),
            ),
        };
        Ok(Payment(
            deps.payments
                .drive_sandbox_payment(viewer, id, outcome)
                .await?,
        ))
    }

    /// Refunds a paid payment: `amount` minor units, or everything left when omitted. Admins
    /// always may; the payment's owner as the server's refund policy says (`REFUNDS_BY_OWNER`;
    /// otherwise `REFUND_NOT_ALLOWED` with `extensions.reason`). `reason` (up to 500
    /// characters) is kept in the refund audit. Idempotent per `idempotencyKey`, like payments.
    async fn refund_payment(
        &self,
        ctx: &Context<'_>,
        payment_id: ID,
        amount: Option<i64>,
        reason: Option<String>,
        idempotency_key: String,
    ) -> Result<Refund, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let id = self::payment_id(&payment_id, "paymentId")?;
        Ok(Refund(
            payments
                .refund(viewer, id, amount, reason, &idempotency_key)
                .await?,
        ))
    }
}

//! Payment events in the schema: delta sync for offline clients (`paymentEvents`) and live
//! subscriptions (`myPaymentEvents`).

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object, Subscription};
use futures_util::{Stream, StreamExt};

use super::kinds::PaymentEventKind;
use super::loaders::PaymentsLoader;
use super::payments::Payment;
use super::types::DateTime;
use super::{SchemaDeps, cursor, viewer_state};
use crate::domain;
use crate::error::AppError;
use crate::events::Start;
use crate::payments::PaymentStatus;
use crate::payments::page::{fetch_page, page_size};
use crate::store::PaymentEventRow;
use async_graphql::dataloader::DataLoader;

/// Cursor kind of payment events.
const KIND: &str = "pe";
/// Largest page of `paymentEvents`.
const MAX_PAGE: i32 = 500;

/// One change to a payment, in order. Resume after `cursor` to miss nothing.
pub struct PaymentEvent(pub Arc<PaymentEventRow>);

/// One change to a payment, in order. Resume after `cursor` to miss nothing.
#[Object]
impl PaymentEvent {
    /// Pass to `after` to continue after this event.
    async fn cursor(&self) -> String {
        cursor::encode(KIND, self.0.cursor)
    }

    /// Position within the payment's history, from 1.
    async fn sequence(&self) -> i32 {
        self.0.sequence
    }

    /// What kind of change this is.
    async fn kind(&self) -> PaymentEventKind {
        PaymentEventKind::from(&self.0.kind)
    }

    /// The provider's event type for a `PROVIDER_UPDATE`, e.g. `payment_intent.succeeded`.
    async fn provider_event_type(&self) -> Option<&str> {
        match &self.0.kind {
            domain::PaymentEventKind::Provider(event_type)
                if PaymentEventKind::from(&self.0.kind) == PaymentEventKind::ProviderUpdate =>
            {
                Some(event_type)
            }
            _ => None,
        }
    }

    /// The payment's status after this change.
    async fn status(&self) -> PaymentStatus {
        self.0.status
    }

    /// The payment's id.
    async fn payment_id(&self) -> ID {
        ID(self.0.payment_id.to_string())
    }

    /// The payment as it is now (which may be later than this event).
    async fn payment(&self, ctx: &Context<'_>) -> Result<Payment, AppError> {
        // Through the loader: a page of events reads its payments in one query.
        let loader = ctx.data_unchecked::<DataLoader<PaymentsLoader>>();
        let payment = loader
            .load_one(self.0.payment_id)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
        Ok(Payment(payment))
    }

    /// Refunded amount after this change, in minor units.
    async fn amount_refunded(&self) -> i64 {
        self.0.amount_refunded
    }

    /// When the change was applied.
    async fn occurred_at(&self) -> DateTime {
        self.0.occurred_at.into()
    }
}

/// Delta sync.
#[derive(Default)]
pub struct EventsQuery;

/// Delta sync.
#[Object]
impl EventsQuery {
    /// The signed-in user's payment events after `after`, oldest first: a client that was offline
    /// catches up here, then subscribes from the last cursor.
    #[graphql(complexity = "page_cost(first.unwrap_or(100), MAX_PAGE, child_complexity)")]
    async fn payment_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        #[graphql(default = 100)] first: Option<i32>,
    ) -> Result<Connection<String, PaymentEvent>, AppError> {
        let viewer = viewer_state(ctx).require()?;
        // An explicit null (an unset variable) means the default too.
        let first = first.unwrap_or(100);
        let size = page_size(first, MAX_PAGE, "first")?;
        let after = after
            .as_deref()
            .map(|c| cursor::decode(KIND, c, "after"))
            .transpose()?
            .unwrap_or(0);
        let reads = &ctx.data_unchecked::<SchemaDeps>().reads;
        let page = fetch_page(size, |limit| reads.my_events_after(viewer, after, limit)).await?;
        let mut connection = Connection::new(after > 0, page.has_more);
        connection.edges.extend(page.items.into_iter().map(|row| {
            Edge::new(
                cursor::encode(KIND, row.cursor),
                PaymentEvent(Arc::new(row)),
            )
        }));
        Ok(connection)
    }
}

/// The complexity of a page: what one item costs, times the items it may hold, so a large
/// `first` costs what it can return.
pub(super) fn page_cost(first: i32, max: i32, child_complexity: usize) -> usize {
    usize::try_from(first.clamp(1, max))
        .unwrap_or(1)
        .saturating_mul(child_complexity)
}

/// Where a subscription starts: after the client's cursor, or now.
fn start_after(after: Option<&str>) -> Result<Start, AppError> {
    Ok(match after {
        Some(c) => Start::After(cursor::decode(KIND, c, "after")?),
        None => Start::Now,
    })
}

/// The root of every subscription.
pub struct SubscriptionRoot;

/// The root of every subscription.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Changes to one payment: its current state first (or every event after `after`), then
    /// live, with no gap and no duplicate. Only the payment's owner (or an admin).
    async fn payment_updated(
        &self,
        ctx: &Context<'_>,
        payment_id: ID,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<PaymentEvent, AppError>> + use<>, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let reads = &ctx.data_unchecked::<SchemaDeps>().reads;
        let id = super::payments::payment_id(&payment_id, "paymentId")?;
        let start = start_after(after.as_deref())?;
        let events = reads.payment_feed(viewer, id, start).await?;
        Ok(events.map(|item| item.map(PaymentEvent).map_err(AppError::from)))
    }

    /// Every change to the signed-in user's payments: the events after `after` first (or, without
    /// it, only changes from now on), then live, with no gap and no duplicate.
    async fn my_payment_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<PaymentEvent, AppError>> + use<>, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let start = start_after(after.as_deref())?;
        let reads = &ctx.data_unchecked::<SchemaDeps>().reads;
        let events = reads.my_feed(viewer, start).await?;
        Ok(events.map(|item| item.map(PaymentEvent).map_err(AppError::from)))
    }

    /// Every change to the signed-in user's subscriptions (Stripe Billing): the events after
    /// `after` first (or, without it, only changes from now on), then live, with no gap and no
    /// duplicate.
    async fn subscription_updated(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> Result<
        impl Stream<Item = Result<super::billing::SubscriptionEvent, AppError>> + use<>,
        AppError,
    > {
        super::billing::subscription_updated(ctx, after).await
    }
}

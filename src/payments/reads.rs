//! The read side of payments for the API: event pages and live feeds limited to what the viewer
//! may see, and the batch reads behind the GraphQL loaders. Resolvers read through here, never
//! through the store or the bus, so visibility is decided in one place.

use std::sync::Arc;

use uuid::Uuid;

use crate::auth::Viewer;
use crate::error::AppError;
use crate::events::{EventBus, EventStream, Start, feed};
use crate::store::{EventScope, PaymentEventRow, PaymentLine, PaymentRow, RefundRow, Store};

/// Read-side queries over payments and their events.
pub struct PaymentReads {
    store: Store,
    bus: Arc<EventBus>,
}

impl PaymentReads {
    /// Queries over `store`, with live events heard on `bus`.
    pub fn new(store: Store, bus: Arc<EventBus>) -> Self {
        Self { store, bus }
    }

    /// Up to `limit` of the viewer's payment events after cursor `after`, oldest first.
    pub async fn my_events_after(
        &self,
        viewer: &Viewer,
        after: i64,
        limit: i64,
    ) -> Result<Vec<PaymentEventRow>, AppError> {
        Ok(self
            .store
            .payment_events_after(EventScope::User(viewer.user_id), after, limit)
            .await?)
    }

    /// The viewer's payment events from `start`, then live.
    pub async fn my_feed(&self, viewer: &Viewer, start: Start) -> Result<EventStream, AppError> {
        let scope = EventScope::User(viewer.user_id);
        Ok(feed(self.store.clone(), &self.bus, scope, start).await?)
    }

    /// One payment's events from `start`, then live; `NOT_FOUND` unless the viewer may see it.
    pub async fn payment_feed(
        &self,
        viewer: &Viewer,
        payment_id: Uuid,
        start: Start,
    ) -> Result<EventStream, AppError> {
        let payment = self.store.payment_by_id(payment_id).await?;
        if !payment.is_some_and(|p| viewer.may_see_owned_by(p.user_id)) {
            return Err(AppError::NotFound("payment"));
        }
        let scope = EventScope::Payment(payment_id);
        Ok(feed(self.store.clone(), &self.bus, scope, start).await?)
    }

    /// Payments by id, for a loader resolving the payments of things already shown.
    pub async fn payments_by_ids(&self, ids: &[Uuid]) -> Result<Vec<PaymentRow>, AppError> {
        Ok(self.store.payments_by_ids(ids).await?)
    }

    /// The refunds of many payments, for a loader resolving payments already shown.
    pub async fn refunds_of(&self, payment_ids: &[Uuid]) -> Result<Vec<RefundRow>, AppError> {
        Ok(self.store.refunds_of(payment_ids).await?)
    }

    /// The line items of many payments priced from the catalog, for a loader resolving
    /// payments already shown.
    pub async fn line_items_of(&self, payment_ids: &[Uuid]) -> Result<Vec<PaymentLine>, AppError> {
        Ok(self.store.line_items_of(payment_ids).await?)
    }
}

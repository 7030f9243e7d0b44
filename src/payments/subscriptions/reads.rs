//! The read side of subscriptions' events: delta sync and the live feed, limited to the viewer's
//! own subscriptions.

use crate::auth::Viewer;
use crate::error::AppError;
use crate::events::{Start, SubscriptionEventStream, subscription_feed};
use crate::payments::PaymentService;
use crate::store::SubscriptionEventRow;

impl PaymentService {
    /// Up to `limit` of the viewer's subscription events after cursor `after`, oldest first.
    pub async fn my_subscription_events_after(
        &self,
        viewer: &Viewer,
        after: i64,
        limit: i64,
    ) -> Result<Vec<SubscriptionEventRow>, AppError> {
        Ok(self
            .store
            .subscription_events_after(viewer.user_id, after, limit)
            .await?)
    }

    /// The viewer's subscription events from `start`, then live.
    pub async fn my_subscription_feed(
        &self,
        viewer: &Viewer,
        start: Start,
    ) -> Result<SubscriptionEventStream, AppError> {
        Ok(subscription_feed(self.store.clone(), &self.bus, viewer.user_id, start).await?)
    }
}

//! A gapless, duplicate-free stream of one user's subscription events. It subscribes to the bus
//! first, then reads the store after the subscriber's cursor, and reads again whenever a notice
//! says one of the user's subscriptions changed or notices may have been missed. Subscription
//! notices travel without their event, so every read is from the store; appends commit in
//! cursor order (decision 0009), so a read never skips an event that commits later.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use super::{BusMessage, EventBus, Start};
use crate::store::{LogSubject, Store, StoreError, SubscriptionEventRow};

/// Events read from the store per round trip.
const PAGE: i64 = 100;

/// A subscriber's stream of subscription events.
pub type SubscriptionEventStream =
    BoxStream<'static, Result<Arc<SubscriptionEventRow>, StoreError>>;

struct Feed {
    store: Store,
    receiver: broadcast::Receiver<BusMessage>,
    user: Uuid,
    /// The last event delivered.
    cursor: i64,
    buffer: VecDeque<Arc<SubscriptionEventRow>>,
    /// Whether the store must be read before waiting for notices.
    read: bool,
}

/// The subscription events of `user` from `start` (`Now`: only changes from now on), then live.
pub fn subscription_feed(
    store: Store,
    bus: &EventBus,
    user: Uuid,
    start: Start,
) -> impl Future<Output = Result<SubscriptionEventStream, StoreError>> + use<> {
    // Subscribe before the store is read, so nothing committed in between is missed.
    let receiver = bus.subscribe();
    async move {
        let cursor = match start {
            Start::After(cursor) => cursor,
            Start::Now => store.latest_subscription_cursor(user).await?,
        };
        let feed = Feed {
            store,
            receiver,
            user,
            cursor,
            buffer: VecDeque::new(),
            read: true,
        };
        Ok(futures_util::stream::unfold(feed, |mut feed| async move {
            let next = feed.next().await;
            next.map(|item| (item, feed))
        })
        .boxed())
    }
}

impl Feed {
    async fn next(&mut self) -> Option<Result<Arc<SubscriptionEventRow>, StoreError>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.cursor = event.cursor;
                return Some(Ok(event));
            }
            if self.read {
                match self
                    .store
                    .subscription_events_after(self.user, self.cursor, PAGE)
                    .await
                {
                    Ok(events) => {
                        // A full page may have more behind it.
                        self.read = events.len() as i64 == PAGE;
                        self.buffer.extend(events.into_iter().map(Arc::new));
                        continue;
                    }
                    // Read again on the next poll, if the subscriber goes on.
                    Err(err) => return Some(Err(err)),
                }
            }
            match self.receiver.recv().await {
                Ok(BusMessage::Changed(notice)) => {
                    self.read = notice.subject == LogSubject::Subscription
                        && notice.user_id == self.user
                        && notice.cursor > self.cursor;
                }
                Ok(BusMessage::Resync) => self.read = true,
                Err(RecvError::Lagged(_)) => {
                    super::count_resync("lagged");
                    self.read = true;
                }
                Ok(BusMessage::SessionsEnded(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

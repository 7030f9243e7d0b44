//! A gapless, duplicate-free stream of payment events for one subscriber: subscribe to the bus
//! first, then read the store after the subscriber's cursor, and read again whenever the bus
//! says something relevant changed (or that notices may have been missed).

use std::collections::VecDeque;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::broadcast::{self, error::RecvError};

use std::sync::Arc;

use super::shared_reads::SharedReads;
use super::{BusMessage, EventBus};
use crate::store::{EventScope, PaymentEventRow, Store, StoreError};

/// Events read from the store per round trip.
const PAGE: i64 = 100;

/// Where a feed begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Every event after this cursor (a reconnecting client's last one).
    After(i64),
    /// The current state: a payment's latest event, or nothing for a user's feed; then live.
    Now,
}

struct Feed {
    store: Store,
    reads: Arc<SharedReads>,
    receiver: broadcast::Receiver<BusMessage>,
    scope: EventScope,
    cursor: i64,
    buffer: VecDeque<PaymentEventRow>,
    /// More events than one page may be waiting.
    behind: bool,
    /// What the next read must see: `Some(cursor)` when a notice said that event exists, so a
    /// read shared with other feeds will do if it reaches it; `None` when only a read of our
    /// own, started now, is sure to see everything (at the start, after missed notices).
    must_reach: Option<i64>,
}

/// A subscriber's stream of payment events.
pub type EventStream = BoxStream<'static, Result<PaymentEventRow, StoreError>>;

/// The events of `scope`, from `start`, then live, as heard on `bus`.
pub fn feed(
    store: Store,
    bus: &EventBus,
    scope: EventScope,
    start: Start,
) -> impl Future<Output = Result<EventStream, StoreError>> + use<> {
    // Subscribe now, before the store is read: a change committed between the read and the
    // subscription would otherwise be missed.
    let receiver = bus.subscribe();
    feed_from(store, bus.reads.clone(), receiver, scope, start)
}

async fn feed_from(
    store: Store,
    reads: Arc<SharedReads>,
    receiver: broadcast::Receiver<BusMessage>,
    scope: EventScope,
    start: Start,
) -> Result<EventStream, StoreError> {
    let (cursor, buffer, behind) = match (start, scope) {
        (Start::After(cursor), _) => (cursor, VecDeque::new(), true),
        (Start::Now, EventScope::Payment(payment_id)) => {
            match store.latest_payment_event(payment_id).await? {
                Some(latest) => (latest.cursor - 1, VecDeque::new(), true),
                None => (0, VecDeque::new(), true),
            }
        }
        (Start::Now, EventScope::User(user_id)) => (
            store.latest_user_cursor(user_id).await?,
            VecDeque::new(),
            false,
        ),
    };
    let state = Feed {
        store,
        reads,
        receiver,
        scope,
        cursor,
        buffer,
        behind,
        // A first read must be our own: what was announced before we listened is only in the
        // store, and a shared read may have begun before it was written.
        must_reach: if behind { None } else { Some(0) },
    };
    Ok(futures_util::stream::unfold(state, |mut feed| async move {
        let next = feed.next().await;
        next.map(|item| (item, feed))
    })
    .boxed())
}

impl Feed {
    async fn next(&mut self) -> Option<Result<PaymentEventRow, StoreError>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.cursor = event.cursor;
                return Some(Ok(event));
            }
            if self.behind {
                if let Err(err) = self.refill().await {
                    return Some(Err(err));
                }
                if !self.buffer.is_empty() {
                    continue;
                }
            }
            match self.receiver.recv().await {
                Ok(BusMessage::Changed(notice)) => {
                    if self.concerns(&notice) && notice.cursor > self.cursor {
                        self.behind = true;
                        self.must_reach = self.must_reach.map(|c| c.max(notice.cursor));
                    }
                }
                // Missed notices (a lagging receiver or a reconnected listener): catch up.
                Ok(BusMessage::Resync) | Err(RecvError::Lagged(_)) => {
                    self.behind = true;
                    self.must_reach = None;
                }
                Ok(BusMessage::SessionsEnded(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    }

    fn concerns(&self, notice: &super::Notice) -> bool {
        match self.scope {
            EventScope::Payment(id) => notice.payment_id == id,
            EventScope::User(id) => notice.user_id == id,
        }
    }

    async fn refill(&mut self) -> Result<(), StoreError> {
        let shared = match self.must_reach {
            Some(_) => Some(
                self.reads
                    .events_after(&self.store, self.scope, self.cursor, PAGE)
                    .await?,
            ),
            None => None,
        };
        let page = match shared {
            Some(page) if self.reaches(&page) => page,
            // The shared read began before our notice was sent: ask on our own.
            _ => {
                self.store
                    .payment_events_after(self.scope, self.cursor, PAGE)
                    .await?
            }
        };
        self.behind = page.len() as i64 == PAGE;
        if !self.behind {
            self.must_reach = Some(0);
        }
        self.buffer.extend(page);
        Ok(())
    }

    /// Whether `page` includes the event we were told of (a full page leads on to it).
    fn reaches(&self, page: &[PaymentEventRow]) -> bool {
        let wanted = self.must_reach.unwrap_or(i64::MAX);
        page.len() as i64 == PAGE || page.last().is_some_and(|event| event.cursor >= wanted)
    }
}

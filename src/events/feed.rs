//! A gapless, duplicate-free stream of payment events for one subscriber: subscribe to the bus
//! first, then read the store after the subscriber's cursor; after that, deliver the events that
//! notices carry while their `previous` links show nothing was missed, and read the store again
//! only when the chain breaks (a lost or reordered notice, a lagging subscriber, a reconnect).

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::broadcast::{self, error::RecvError};

use super::shared_reads::SharedReads;
use super::{BusMessage, EventBus, Notice};
use crate::store::{EventPage, EventScope, LogSubject, PaymentEventRow, Store, StoreError};

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

/// A store read the feed needs before it can go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// A read shared with other feeds will do if it shows the log up to this cursor.
    Reaching(i64),
    /// Only a read of our own, started now, is sure to see everything.
    Own,
}

struct Feed {
    store: Store,
    reads: Arc<SharedReads>,
    receiver: broadcast::Receiver<BusMessage>,
    scope: EventScope,
    /// The last event delivered.
    cursor: i64,
    /// Every event of the scope up to this cursor of the whole log has been delivered or is
    /// buffered; `None` until a read says how far that is.
    seen: Option<i64>,
    buffer: VecDeque<Arc<PaymentEventRow>>,
    pending: Option<Read>,
}

/// A subscriber's stream of payment events.
pub type EventStream = BoxStream<'static, Result<Arc<PaymentEventRow>, StoreError>>;

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
    let cursor = match (start, scope) {
        (Start::After(cursor), _) => cursor,
        (Start::Now, EventScope::Payment(payment_id)) => store
            .latest_payment_event(payment_id)
            .await?
            .map_or(0, |latest| latest.cursor - 1),
        (Start::Now, EventScope::User(user_id)) => store.latest_user_cursor(user_id).await?,
    };
    let state = Feed {
        store,
        reads,
        receiver,
        scope,
        cursor,
        seen: None,
        buffer: VecDeque::new(),
        // The first read must be our own: what was announced before we listened is only in the
        // store, and a shared read may have begun before it was written.
        pending: Some(Read::Own),
    };
    Ok(futures_util::stream::unfold(state, |mut feed| async move {
        let next = feed.next().await;
        next.map(|item| (item, feed))
    })
    .boxed())
}

impl Feed {
    async fn next(&mut self) -> Option<Result<Arc<PaymentEventRow>, StoreError>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.cursor = event.cursor;
                crate::telemetry::origins::pushed(event.source_event_id.as_deref(), event.cursor);
                return Some(Ok(event));
            }
            if let Some(read) = self.pending.take() {
                if let Err(err) = self.refill(read).await {
                    // Asked again on the next poll, if the subscriber goes on.
                    self.pending = Some(Read::Own);
                    return Some(Err(err));
                }
                continue;
            }
            match self.receiver.recv().await {
                Ok(BusMessage::Changed(notice)) => self.hear(notice),
                // Missed notices (a lagging receiver or a reconnected listener): catch up.
                Ok(BusMessage::Resync) => self.lost_track(),
                Err(RecvError::Lagged(_)) => {
                    super::count_resync("lagged");
                    self.lost_track()
                }
                Ok(BusMessage::SessionsEnded(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Takes in one notice: delivers its event if it follows on from what we have seen.
    fn hear(&mut self, notice: Notice) {
        let Some(seen) = self.seen else {
            return self.lost_track();
        };
        if notice.cursor <= seen {
            // Already read from the store (or heard twice).
            return;
        }
        if notice.previous != seen {
            // Something between what we have seen and this event has not reached us (yet):
            // only the store knows whether it concerns this feed.
            self.seen = None;
            self.pending = Some(Read::Reaching(notice.cursor));
            return;
        }
        self.seen = Some(notice.cursor);
        if !self.concerns(&notice) {
            return;
        }
        match notice.event {
            Some(event) => self.buffer.push_back(event),
            // Too big to travel with its notice.
            None => self.pending = Some(Read::Reaching(notice.cursor)),
        }
    }

    fn lost_track(&mut self) {
        self.seen = None;
        self.pending = Some(Read::Own);
    }

    fn concerns(&self, notice: &Notice) -> bool {
        if notice.subject != LogSubject::Payment {
            return false;
        }
        match self.scope {
            EventScope::Payment(id) => notice.payment_id == id,
            EventScope::User(id) => notice.user_id == id,
        }
    }

    async fn refill(&mut self, read: Read) -> Result<(), StoreError> {
        let shared = match read {
            Read::Reaching(_) => Some(
                self.reads
                    .events_after(&self.store, self.scope, self.cursor, PAGE)
                    .await?,
            ),
            Read::Own => None,
        };
        let page = match shared {
            Some(page) if reaches(&page, read) => page,
            // The shared read began before our notice was sent: ask on our own.
            _ => {
                self.store
                    .payment_events_page(self.scope, self.cursor, PAGE)
                    .await?
            }
        };
        let full = page.events.len() as i64 == PAGE;
        let last = page.events.last().map_or(0, |event| event.cursor);
        // Appends commit in cursor order, so the page holds every event of the scope up to its
        // horizon and up to its own last event.
        self.seen = (!full).then_some(page.horizon.max(last));
        if full {
            self.pending = Some(Read::Own);
        }
        self.buffer.extend(
            page.events
                .into_iter()
                .map(Arc::new)
                .filter(|e| e.cursor > self.cursor),
        );
        Ok(())
    }
}

/// Whether a shared `page` shows the log as far as `read` needs (a full page leads on to it).
fn reaches(page: &EventPage, read: Read) -> bool {
    let wanted = match read {
        Read::Reaching(cursor) => cursor,
        Read::Own => return false,
    };
    let last = page.events.last().map_or(0, |event| event.cursor);
    page.events.len() as i64 == PAGE || page.horizon.max(last) >= wanted
}

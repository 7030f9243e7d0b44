//! The event bus: tells subscribers that a payment changed. In one process it is a bounded
//! broadcast channel; with PostgreSQL, `LISTEN/NOTIFY` carries notices between instances.
//!
//! A notice carries the event itself (when it fits a NOTIFY payload) and the cursor of the event
//! logged just before it. Appends to the log are serialised, so those `previous` links chain
//! every event: a feed that has seen the previous event delivers the new one without reading
//! the store. A broken chain (a lost, late or reordered notice, a lagging subscriber, a
//! reconnecting listener) costs a store read, never an event.

mod feed;
mod postgres;
mod shared_reads;
mod subscription_feed;

pub use feed::{EventStream, Start, feed};
pub use subscription_feed::{SubscriptionEventStream, subscription_feed};

use std::sync::Arc;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::store::LoggedEvent;
pub use crate::store::Notice;

/// What subscribers receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusMessage {
    /// One payment changed.
    Changed(Notice),
    /// Notices may have been missed (a listener reconnected): read the store to catch up.
    Resync,
    /// These login sessions ended (logout, a reused refresh token) on some instance: every
    /// instance forgets them and closes their sockets.
    SessionsEnded(Arc<[Uuid]>),
}

/// Counts a resynchronisation: per instance for a listener's `reconnect`, `listener_error` or
/// `malformed` notice, per subscriber for `lagged` (a subscriber fell a channel's length behind).
fn count_resync(reason: &'static str) {
    metrics::counter!(crate::telemetry::stages::BUS_RESYNCS_TOTAL, "reason" => reason).increment(1);
}

/// Records how long a notice took from its event's commit to this instance's bus.
fn record_notice_lag(notice: &Notice) {
    if let Some(event) = &notice.event {
        let lag = (chrono::Utc::now() - event.occurred_at)
            .as_seconds_f64()
            .max(0.0);
        metrics::histogram!(crate::telemetry::stages::BUS_NOTICE_LAG_SECONDS).record(lag);
    }
}

/// Session ids per NOTIFY, well inside PostgreSQL's 8,000-byte payload limit.
const SESSIONS_PER_NOTICE: usize = 100;

fn encode_sessions(sessions: &[Uuid]) -> String {
    sessions
        .iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_sessions(payload: &str) -> Option<Arc<[Uuid]>> {
    payload.split(',').map(|id| id.parse().ok()).collect()
}

/// How notices travel.
enum Transport {
    /// Within this process only.
    InProcess,
    /// Through PostgreSQL, so every instance hears every notice.
    Postgres(postgres::Notifier),
}

/// Publishes and distributes payment notices.
pub struct EventBus {
    local: broadcast::Sender<BusMessage>,
    transport: Transport,
    /// Store reads shared by the feeds a notice wakes together.
    reads: Arc<shared_reads::SharedReads>,
}

/// Channel capacity per process; a subscriber further behind than this resynchronises.
pub const CAPACITY: usize = 1024;

impl EventBus {
    /// A bus within this process.
    pub fn in_process() -> Self {
        Self::in_process_with_capacity(CAPACITY)
    }

    /// A bus within this process whose subscribers may fall `capacity` messages behind.
    pub fn in_process_with_capacity(capacity: usize) -> Self {
        let (local, _) = broadcast::channel(capacity);
        Self {
            local,
            transport: Transport::InProcess,
            reads: Arc::default(),
        }
    }

    /// A bus over PostgreSQL at `url`: notices published by any instance reach every instance.
    /// The listener runs until `stop` is cancelled.
    pub async fn postgres(url: &str, stop: CancellationToken) -> Result<Self, sqlx::Error> {
        let (local, _) = broadcast::channel(CAPACITY);
        let notifier = postgres::Notifier::start(url, local.clone(), stop).await?;
        Ok(Self {
            local,
            transport: Transport::Postgres(notifier),
            reads: Arc::default(),
        })
    }

    /// Announces changes just committed, in cursor order. With PostgreSQL the store has
    /// announced them already and they come back through the listener, so this instance's
    /// subscribers hear them like everyone else's.
    pub async fn publish(&self, events: &[LoggedEvent]) {
        match &self.transport {
            Transport::InProcess => {
                for notice in events.iter().map(Notice::from) {
                    record_notice_lag(&notice);
                    // No receiver is fine: nobody is watching.
                    let _ = self.local.send(BusMessage::Changed(notice));
                }
            }
            // The store sent them with NOTIFY inside the appending transaction, so every
            // instance hears them in commit order, which is cursor order.
            Transport::Postgres(_) => {}
        }
    }

    /// Announces notices of events just committed, in cursor order, like
    /// [`EventBus::publish`] (with PostgreSQL the store has sent them already).
    pub async fn publish_notices(&self, notices: &[Notice]) {
        if let Transport::InProcess = &self.transport {
            for notice in notices {
                // No receiver is fine: nobody is watching.
                let _ = self.local.send(BusMessage::Changed(notice.clone()));
            }
        }
    }

    /// Tells every instance, this one included, that `sessions` ended.
    pub async fn publish_sessions_ended(&self, sessions: &[Uuid]) {
        for chunk in sessions.chunks(SESSIONS_PER_NOTICE) {
            let notified = match &self.transport {
                Transport::InProcess => Ok(()),
                Transport::Postgres(notifier) => notifier.notify_sessions_ended(chunk).await,
            };
            match notified {
                // With PostgreSQL the notice comes back through the listener.
                Ok(()) if matches!(self.transport, Transport::Postgres(_)) => {}
                Ok(()) => {
                    // No receiver is fine: nobody is watching.
                    let _ = self.local.send(BusMessage::SessionsEnded(chunk.into()));
                }
                Err(err) => {
                    // This instance still learns. Others stop accepting ended sessions when
                    // their session cache expires (seconds).
                    tracing::warn!(error = %err, "NOTIFY failed; delivering on this instance only");
                    let _ = self.local.send(BusMessage::SessionsEnded(chunk.into()));
                }
            }
        }
    }

    /// A receiver of every later message.
    pub fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.local.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_sessions_round_trip_through_text() {
        let sessions: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        assert_eq!(
            decode_sessions(&encode_sessions(&sessions)).as_deref(),
            Some(sessions.as_slice())
        );
        assert_eq!(decode_sessions("not-a-uuid"), None);
        // The longest chunk fits a NOTIFY payload.
        let many: Vec<Uuid> = (0..SESSIONS_PER_NOTICE).map(|_| Uuid::now_v7()).collect();
        assert!(encode_sessions(&many).len() < 8000);
    }

    #[tokio::test]
    async fn ended_sessions_reach_in_process_subscribers_in_chunks() {
        let bus = EventBus::in_process();
        let mut receiver = bus.subscribe();
        let sessions: Vec<Uuid> = (0..SESSIONS_PER_NOTICE + 1)
            .map(|_| Uuid::now_v7())
            .collect();
        bus.publish_sessions_ended(&sessions).await;
        let mut heard = Vec::new();
        for _ in 0..2 {
            match receiver.recv().await.unwrap() {
                BusMessage::SessionsEnded(ids) => heard.extend_from_slice(&ids),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(heard, sessions);
    }

    #[tokio::test]
    async fn in_process_subscribers_hear_published_notices() {
        let bus = EventBus::in_process();
        let mut receiver = bus.subscribe();
        let event = crate::store::logged_event_for_tests(1, 0);
        bus.publish(std::slice::from_ref(&event)).await;
        assert_eq!(
            receiver.recv().await.unwrap(),
            BusMessage::Changed(Notice::from(&event))
        );
    }
}

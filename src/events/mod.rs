//! The event bus: tells subscribers that a payment changed. In one process it is a bounded
//! broadcast channel; with PostgreSQL, `LISTEN/NOTIFY` carries notices between instances.
//!
//! A notice is only a wake-up (cursor, payment, owner): subscribers read what changed from the
//! store, after the last cursor they delivered. So a lost or repeated notice, a lagging
//! subscriber or a reconnecting listener costs a store read, never an event: on any doubt the
//! bus says [`BusMessage::Resync`].

mod feed;
mod postgres;
mod shared_reads;

pub use feed::{EventStream, Start, feed};

use std::sync::Arc;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A payment changed: its event at `cursor` is in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    /// Global cursor of the new payment event.
    pub cursor: i64,
    /// The payment.
    pub payment_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
}

impl Notice {
    /// The NOTIFY payload: small, no personal data.
    fn encode(&self) -> String {
        format!("{},{},{}", self.cursor, self.payment_id, self.user_id)
    }

    fn decode(payload: &str) -> Option<Notice> {
        let mut parts = payload.split(',');
        let notice = Notice {
            cursor: parts.next()?.parse().ok()?,
            payment_id: parts.next()?.parse().ok()?,
            user_id: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(notice)
    }
}

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

    /// Announces a change. With PostgreSQL the notice comes back through the listener, so this
    /// instance's subscribers hear it exactly like everyone else's.
    pub async fn publish(&self, notice: Notice) {
        self.send(BusMessage::Changed(notice)).await;
    }

    /// Tells every instance, this one included, that `sessions` ended.
    pub async fn publish_sessions_ended(&self, sessions: &[Uuid]) {
        for chunk in sessions.chunks(SESSIONS_PER_NOTICE) {
            self.send(BusMessage::SessionsEnded(chunk.into())).await;
        }
    }

    async fn send(&self, message: BusMessage) {
        match &self.transport {
            Transport::InProcess => {
                // No receiver is fine: nobody is watching.
                let _ = self.local.send(message);
            }
            Transport::Postgres(notifier) => {
                if let Err(err) = notifier.notify(&message).await {
                    // This instance still learns. Others catch up on their next payment notice
                    // or resync, and stop accepting ended sessions when their session cache
                    // expires (seconds).
                    tracing::warn!(error = %err, "NOTIFY failed; delivering on this instance only");
                    let _ = self.local.send(message);
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
    fn notices_round_trip_through_text() {
        let notice = Notice {
            cursor: 42,
            payment_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
        };
        assert_eq!(Notice::decode(&notice.encode()), Some(notice));
        assert_eq!(Notice::decode("1,2"), None);
        assert_eq!(Notice::decode(&format!("{},x", notice.encode())), None);
    }

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
        let notice = Notice {
            cursor: 1,
            payment_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
        };
        bus.publish(notice).await;
        assert_eq!(receiver.recv().await.unwrap(), BusMessage::Changed(notice));
    }
}

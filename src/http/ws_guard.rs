//! The guard between a WebSocket and the GraphQL session: which operations run (to refuse a
//! duplicate id and cap them per socket), the close frame the server chose, when the peer was
//! last heard, and the refusals waiting to be sent.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::ws_outlet::Outlet;
use super::ws_shared::SocketShares;
use crate::error::ErrorCode;
use crate::sync::lock;
use crate::telemetry::stages::SUBSCRIPTIONS_ACTIVE;

/// Close code for a subscribe whose id is already running (graphql-transport-ws).
pub const CLOSE_DUPLICATE_ID: u16 = 4409;

/// State shared by a socket's reading and writing sides.
pub struct Guard {
    /// Ids of the operations running, to refuse duplicates and count them against the cap.
    pub running: Mutex<HashSet<String>>,
    pub max_running: usize,
    /// The close frame the server decided on, if it ends the socket itself.
    pub closing: OnceLock<(u16, String)>,
    /// Cancelled to stop reading (which ends the GraphQL session).
    pub stop_reading: CancellationToken,
    /// When the peer last sent anything, including pongs.
    pub last_heard: Mutex<Instant>,
    /// Set once `connection_init` arrived.
    pub initialised: AtomicBool,
    /// Replies of our own (refused operations) to send between GraphQL's messages. A queue that
    /// allocates only when used: most sockets never see a refusal, and a channel per socket
    /// would cost every one of thousands of idle sockets its buffer.
    pub replies: Mutex<VecDeque<String>>,
    /// A reply was queued.
    pub reply_queued: Notify,
    /// A reply was sent, so the queue has room.
    pub reply_sent: Notify,
    /// The socket's operations that run in shared executions, and their deliveries.
    pub shares: SocketShares,
}

/// Refusals waiting to be sent on one socket; past it, reading waits for the client.
pub const REPLIES_QUEUED: usize = 1024;

impl Guard {
    /// A guard for a socket allowed `max_running` operations at once, written through `outlet`.
    pub fn new(max_running: usize, outlet: Arc<Outlet>) -> Guard {
        Guard {
            running: Mutex::default(),
            max_running,
            closing: OnceLock::new(),
            stop_reading: CancellationToken::new(),
            last_heard: Mutex::new(Instant::now()),
            initialised: AtomicBool::new(false),
            replies: Mutex::default(),
            reply_queued: Notify::new(),
            reply_sent: Notify::new(),
            shares: SocketShares::new(outlet),
        }
    }

    /// Queues a reply, waiting while the queue is full: a client that floods without reading
    /// is slowed to the pace it reads at, and memory stays bounded by the queue.
    pub async fn queue_reply(&self, reply: String) {
        loop {
            {
                let mut replies = lock(&self.replies);
                if replies.len() < REPLIES_QUEUED {
                    replies.push_back(reply);
                    self.reply_queued.notify_one();
                    return;
                }
            }
            self.reply_sent.notified().await;
        }
    }

    /// The next queued reply, once there is one.
    pub async fn next_reply(&self) -> String {
        loop {
            let next = {
                let mut replies = lock(&self.replies);
                let next = replies.pop_front();
                if next.is_some() && !replies.is_empty() {
                    // More are waiting: the next call must not wait for another notice.
                    self.reply_queued.notify_one();
                }
                next
            };
            if let Some(reply) = next {
                self.reply_sent.notify_one();
                return reply;
            }
            self.reply_queued.notified().await;
        }
    }

    pub fn close_with(&self, code: u16, reason: impl Into<String>) {
        let _ = self.closing.set((code, reason.into()));
        self.stop_reading.cancel();
    }

    /// Checks a client message before GraphQL sees it.
    pub fn admit(&self, message: &[u8]) -> Admission {
        let Ok(envelope) = serde_json::from_slice::<Envelope>(message) else {
            // GraphQL answers malformed messages itself.
            return Admission::Pass;
        };
        let Some(id) = envelope.id else {
            return Admission::Pass;
        };
        match envelope.kind.as_str() {
            "subscribe" | "start" => {
                let mut running = lock(&self.running);
                if running.contains(&id) {
                    drop(running);
                    self.close_with(
                        CLOSE_DUPLICATE_ID,
                        format!("Subscriber for {id} already exists"),
                    );
                    return Admission::Drop;
                }
                if running.len() >= self.max_running {
                    return Admission::Refuse(too_many_operations(&id, self.max_running));
                }
                running.insert(id);
                metrics::gauge!(SUBSCRIPTIONS_ACTIVE).increment(1.0);
                Admission::Pass
            }
            "complete" | "stop" => {
                self.finished(&id);
                Admission::Pass
            }
            _ => Admission::Pass,
        }
    }

    /// Notes an operation the server finished.
    pub fn sent(&self, text: &str) {
        // Only completions and errors end an operation; the common `next` is skipped unparsed.
        if !(text.starts_with(r#"{"type":"complete""#) || text.starts_with(r#"{"type":"error""#)) {
            return;
        }
        if let Ok(Envelope { id: Some(id), .. }) = serde_json::from_str::<Envelope>(text) {
            self.finished(&id);
        }
    }

    /// Notes that operation `id` ended.
    pub fn finished(&self, id: &str) {
        if lock(&self.running).remove(id) {
            metrics::gauge!(SUBSCRIPTIONS_ACTIVE).decrement(1.0);
        }
    }
}

impl Drop for Guard {
    /// Operations still running when the socket ends stop with it.
    fn drop(&mut self) {
        let running = lock(&self.running).len();
        if running > 0 {
            metrics::gauge!(SUBSCRIPTIONS_ACTIVE).decrement(running as f64);
        }
    }
}

/// What happens to a client message.
pub enum Admission {
    /// GraphQL handles it.
    Pass,
    /// Dropped (the socket is closing).
    Drop,
    /// Answered with this error instead.
    Refuse(String),
}

/// The routing fields of a graphql-ws message.
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
}

/// The error answering a subscribe past the per-socket cap; the socket stays open.
pub fn too_many_operations(id: &str, max: usize) -> String {
    operation_error(
        id,
        &format!("this connection already runs {max} operations; complete one first"),
    )
}

/// The error ending a shared operation whose socket fell too far behind; the socket stays open.
pub fn operation_lagged(id: &str) -> String {
    operation_error(
        id,
        "this connection fell too far behind this subscription; subscribe again, with `after` \
         set to the last cursor received to miss nothing",
    )
}

fn operation_error(id: &str, message: &str) -> String {
    serde_json::json!({
        "type": "error",
        "id": id,
        "payload": [{
            "message": message,
            "extensions": { "code": ErrorCode::RateLimited.as_str() },
        }],
    })
    .to_string()
}

//! The guard between a WebSocket and the GraphQL session: which operations run (to refuse a
//! duplicate id and cap them per socket), the close frame the server chose, when the peer was
//! last heard, and the refusals waiting to be sent.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::ErrorCode;
use crate::sync::lock;

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
    /// Replies of our own (refused operations) to send between GraphQL's messages.
    pub replies: mpsc::Sender<String>,
}

impl Guard {
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
                Admission::Pass
            }
            "complete" | "stop" => {
                lock(&self.running).remove(&id);
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
            lock(&self.running).remove(&id);
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
    serde_json::json!({
        "type": "error",
        "id": id,
        "payload": [{
            "message": format!("this connection already runs {max} operations; complete one first"),
            "extensions": { "code": ErrorCode::RateLimited.as_str() },
        }],
    })
    .to_string()
}

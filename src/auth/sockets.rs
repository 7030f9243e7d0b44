//! Open WebSocket sessions by login session, so logging out (or a session running out) ends
//! the sockets it authenticated.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Cancellation handles of the sockets each session opened.
#[derive(Default)]
pub struct SessionSockets {
    by_session: Mutex<HashMap<Uuid, Vec<CancellationToken>>>,
}

impl SessionSockets {
    /// Remembers that `socket` belongs to `session`; dead sockets are forgotten on the way.
    pub fn register(&self, session: Uuid, socket: CancellationToken) {
        let mut map = self.by_session.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, sockets| {
            sockets.retain(|s| !s.is_cancelled());
            !sockets.is_empty()
        });
        map.entry(session).or_default().push(socket);
    }

    /// Ends every socket of the given sessions.
    pub fn end(&self, sessions: &[Uuid]) {
        let mut map = self.by_session.lock().unwrap_or_else(|p| p.into_inner());
        for session in sessions {
            for socket in map.remove(session).unwrap_or_default() {
                socket.cancel();
            }
        }
    }
}

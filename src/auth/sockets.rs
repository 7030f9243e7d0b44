//! Open WebSocket sessions by login session, so logging out (or a session running out) ends
//! the sockets it authenticated.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::sync::lock;

/// Cancellation handles of the sockets each session opened.
#[derive(Default)]
pub struct SessionSockets {
    inner: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    by_session: HashMap<Uuid, Vec<CancellationToken>>,
    /// Sockets registered since closed ones were last swept out.
    since_sweep: usize,
    /// Sessions left by the last sweep.
    after_sweep: usize,
}

/// Registrations between sweeps, at least.
const MIN_SWEEP_INTERVAL: usize = 16;

impl SessionSockets {
    /// Remembers that `socket` belongs to `session`. Closed sockets are swept out once as many
    /// new ones have registered as the last sweep left, so each registration costs O(1) on
    /// average with thousands open.
    pub fn register(&self, session: Uuid, socket: CancellationToken) {
        let mut registry = lock(&self.inner);
        registry.since_sweep += 1;
        if registry.since_sweep >= registry.after_sweep.max(MIN_SWEEP_INTERVAL) {
            registry.by_session.retain(|_, sockets| {
                sockets.retain(|s| !s.is_cancelled());
                !sockets.is_empty()
            });
            registry.since_sweep = 0;
            registry.after_sweep = registry.by_session.len();
        }
        let sockets = registry.by_session.entry(session).or_default();
        sockets.retain(|s| !s.is_cancelled());
        sockets.push(socket);
    }

    /// Ends every socket of the given sessions.
    pub fn end(&self, sessions: &[Uuid]) {
        let mut registry = lock(&self.inner);
        for session in sessions {
            for socket in registry.by_session.remove(session).unwrap_or_default() {
                socket.cancel();
            }
        }
    }

    /// Sockets held, open or closed but not yet swept out.
    #[cfg(test)]
    fn held(&self) -> usize {
        let registry = lock(&self.inner);
        registry.by_session.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ending_a_session_cancels_its_sockets_only() {
        let sockets = SessionSockets::default();
        let (mine, theirs) = (Uuid::now_v7(), Uuid::now_v7());
        let (a, b, c) = (
            CancellationToken::new(),
            CancellationToken::new(),
            CancellationToken::new(),
        );
        sockets.register(mine, a.clone());
        sockets.register(mine, b.clone());
        sockets.register(theirs, c.clone());
        sockets.end(&[mine]);
        assert!(a.is_cancelled() && b.is_cancelled());
        assert!(!c.is_cancelled());
    }

    #[test]
    fn closed_sockets_do_not_pile_up() {
        let sockets = SessionSockets::default();
        for _ in 0..1000 {
            let socket = CancellationToken::new();
            sockets.register(Uuid::now_v7(), socket.clone());
            // The socket closes on its own (the client went away).
            socket.cancel();
        }
        assert!(
            sockets.held() <= MIN_SWEEP_INTERVAL,
            "{} closed sockets held",
            sockets.held()
        );
    }
}

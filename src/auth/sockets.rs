//! Open WebSocket sessions by login session, so logging out (or a session running out) ends
//! the sockets it authenticated; and the timer that re-checks each open socket's viewer.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Viewer;
use crate::error::AppError;
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

/// An open socket whose viewer is re-checked while it stays open.
pub struct WatchedSocket {
    /// Who the socket signed in as.
    pub viewer: Viewer,
    /// The socket ends when its session does.
    pub session_expires_at: DateTime<Utc>,
    /// Cancelled to end the socket; a socket that ended is forgotten.
    pub ended: CancellationToken,
}

/// When each open socket's viewer is checked next, on one timer for all of them: a task and a
/// timer per socket would cost each of thousands of idle sockets a few KiB.
#[derive(Default)]
pub struct SocketRechecks {
    queue: Mutex<Queue>,
    /// The earliest check moved forward.
    sooner: Notify,
    started: AtomicBool,
}

#[derive(Default)]
struct Queue {
    due: BinaryHeap<Reverse<Due>>,
    next_seq: u64,
    /// Sockets left by the last sweep of ended ones.
    after_sweep: usize,
}

struct Due {
    at: DateTime<Utc>,
    /// Keeps checks due at the same instant in the order they were asked for.
    seq: u64,
    socket: WatchedSocket,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Sockets queued before ended ones are swept out, at least.
const MIN_SWEEP_LEN: usize = 64;

impl SocketRechecks {
    /// Checks `socket`'s viewer at `at`, or ends the socket when its session expires first.
    /// Returns `true` the first time, when the caller must start [`SocketRechecks::run`].
    pub fn watch(&self, at: DateTime<Utc>, socket: WatchedSocket) -> bool {
        let at = at.min(socket.session_expires_at);
        let sooner = {
            let mut queue = lock(&self.queue);
            if queue.due.len() >= (queue.after_sweep * 2).max(MIN_SWEEP_LEN) {
                queue.due.retain(|due| !due.0.socket.ended.is_cancelled());
                queue.after_sweep = queue.due.len();
            }
            let sooner = queue.due.peek().is_none_or(|next| at < next.0.at);
            let seq = queue.next_seq;
            queue.next_seq += 1;
            queue.due.push(Reverse(Due { at, seq, socket }));
            sooner
        };
        if sooner {
            self.sooner.notify_one();
        }
        !self.started.swap(true, Ordering::AcqRel)
    }

    /// Runs the timer until `stop`. A socket due is ended if its session expired; otherwise
    /// `check` says whether its viewer still stands (a session ended elsewhere, an admin right
    /// withdrawn): if so it is checked again `every` later, if not (or if the database does not
    /// answer: fail closed, the client reconnects) the socket ends.
    pub async fn run<C, F>(self: Arc<Self>, check: C, every: Duration, stop: CancellationToken)
    where
        C: Fn(Viewer) -> F,
        F: Future<Output = Result<bool, AppError>> + Send + 'static,
    {
        loop {
            let next = lock(&self.queue).due.peek().map(|due| due.0.at);
            let wait = next.map(|at| (at - Utc::now()).to_std().unwrap_or_default());
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.sooner.notified() => continue,
                () = sleep_for(wait) => {}
            }
            for due in self.take_due(Utc::now()) {
                let Due { at, socket, .. } = due;
                if socket.ended.is_cancelled() {
                    continue;
                }
                if at >= socket.session_expires_at {
                    socket.ended.cancel();
                    continue;
                }
                let verdict = check(socket.viewer.clone());
                let rechecks = self.clone();
                tokio::spawn(async move {
                    match verdict.await {
                        Ok(true) => {
                            let every = chrono::Duration::from_std(every).unwrap_or_default();
                            rechecks.watch(Utc::now() + every, socket);
                        }
                        Ok(false) => {
                            tracing::info!(session_id = %socket.viewer.session_id, "socket viewer no longer stands; closing");
                            socket.ended.cancel();
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "re-checking a socket's viewer failed; closing");
                            socket.ended.cancel();
                        }
                    }
                });
            }
        }
    }

    fn take_due(&self, now: DateTime<Utc>) -> Vec<Due> {
        let mut queue = lock(&self.queue);
        let mut due = Vec::new();
        while queue.due.peek().is_some_and(|next| next.0.at <= now) {
            due.extend(queue.due.pop().map(|Reverse(d)| d));
        }
        due
    }

    /// Sockets queued, ended or not.
    #[cfg(test)]
    fn queued(&self) -> usize {
        lock(&self.queue).due.len()
    }
}

/// Sleeps `wait`, or forever without one.
async fn sleep_for(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
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

    fn watched(session_expires_at: DateTime<Utc>) -> WatchedSocket {
        WatchedSocket {
            viewer: Viewer {
                user_id: Uuid::now_v7(),
                session_id: Uuid::now_v7(),
                is_admin: false,
                source: crate::auth::CredentialSource::Bearer,
            },
            session_expires_at,
            ended: CancellationToken::new(),
        }
    }

    /// Starts the timer with a check that answers `stands` and counts its calls.
    fn timer(
        stands: bool,
    ) -> (
        Arc<SocketRechecks>,
        Arc<std::sync::atomic::AtomicUsize>,
        CancellationToken,
    ) {
        let rechecks = Arc::new(SocketRechecks::default());
        let checks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let counted = checks.clone();
        let check = move |_viewer: Viewer| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move { Ok(stands) }
        };
        tokio::spawn(
            rechecks
                .clone()
                .run(check, Duration::from_secs(3600), stop.clone()),
        );
        (rechecks, checks, stop)
    }

    async fn ends(socket: &CancellationToken) {
        tokio::time::timeout(Duration::from_secs(10), socket.cancelled())
            .await
            .expect("the socket ended in time");
    }

    #[tokio::test]
    async fn a_socket_ends_with_its_session_without_a_check() {
        let (rechecks, checks, stop) = timer(true);
        let socket = watched(Utc::now() + chrono::Duration::milliseconds(50));
        let ended = socket.ended.clone();
        let later = Utc::now() + chrono::Duration::hours(1);
        assert!(rechecks.watch(later, socket));
        ends(&ended).await;
        assert_eq!(checks.load(Ordering::SeqCst), 0);
        stop.cancel();
    }

    #[tokio::test]
    async fn a_viewer_that_no_longer_stands_ends_its_socket_and_others_go_on() {
        let (rechecks, checks, stop) = timer(false);
        let far = Utc::now() + chrono::Duration::hours(1);
        let (soon, later) = (watched(far), watched(far));
        let (ended, untouched) = (soon.ended.clone(), later.ended.clone());
        rechecks.watch(far, later);
        // An earlier check wakes the timer that was waiting for the later one.
        rechecks.watch(Utc::now() + chrono::Duration::milliseconds(50), soon);
        ends(&ended).await;
        assert_eq!(checks.load(Ordering::SeqCst), 1);
        assert!(!untouched.is_cancelled());
        stop.cancel();
    }

    #[tokio::test]
    async fn a_viewer_that_stands_is_checked_again_later() {
        let (rechecks, checks, stop) = timer(true);
        let socket = watched(Utc::now() + chrono::Duration::hours(1));
        let ended = socket.ended.clone();
        rechecks.watch(Utc::now(), socket);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while rechecks.queued() == 0 || checks.load(Ordering::SeqCst) == 0 {
            assert!(std::time::Instant::now() < deadline, "never checked");
            tokio::task::yield_now().await;
        }
        assert!(!ended.is_cancelled());
        assert_eq!(rechecks.queued(), 1, "scheduled again");
        stop.cancel();
    }

    #[test]
    fn ended_sockets_do_not_pile_up_in_the_timer() {
        let rechecks = SocketRechecks::default();
        let later = Utc::now() + chrono::Duration::hours(1);
        for _ in 0..1000 {
            let socket = watched(later);
            socket.ended.cancel();
            rechecks.watch(later, socket);
        }
        assert!(
            rechecks.queued() <= MIN_SWEEP_LEN,
            "{} queued",
            rechecks.queued()
        );
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

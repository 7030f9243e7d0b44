//! Recently verified sessions, so an authenticated request does not read the database.
//!
//! An access token is a signed JWT, but the session behind it can end early (logout, a reused
//! refresh token). Checking that on every request costs a database read, so active sessions are
//! remembered for [`TTL`]. The instance that ends a session forgets it at once and tells the
//! others over the event bus; should that notice be lost, [`TTL`] bounds how long another
//! instance keeps accepting the session.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lru::LruCache;
use uuid::Uuid;

use crate::store::{Session, User};
use crate::sync::PerThread;

/// How long a verified session is trusted without asking the database again.
pub const TTL: Duration = Duration::from_secs(5);

/// Sessions remembered at most; the least recently used are forgotten first.
const CAPACITY: usize = 16_384;
/// Sessions each thread keeps its own copy of.
const CAPACITY_PER_THREAD: usize = 4_096;

/// An active session and its user, as read from the database.
#[derive(Debug, Clone)]
pub struct VerifiedSession {
    /// The session.
    pub session: Session,
    /// Its user.
    pub user: User,
}

/// Sessions verified within the last [`TTL`].
pub struct SessionCache {
    entries: Mutex<LruCache<Uuid, (Arc<VerifiedSession>, Instant)>>,
    /// Counts forgets. A session read from the database before a forget may predate the end
    /// it announced, so it is only remembered if no forget happened since the read began.
    generation: AtomicU64,
    /// Each thread's own copies of the entries it used, stamped with the generation they were
    /// found in: any forget makes them all stale at once (see [`crate::sync::PerThread`]).
    here: PerThread<Uuid, (Arc<VerifiedSession>, Instant, u64)>,
}

impl Default for SessionCache {
    fn default() -> Self {
        Self {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(CAPACITY).expect("capacity is not zero"),
            )),
            generation: AtomicU64::new(0),
            here: PerThread::new(CAPACITY_PER_THREAD),
        }
    }
}

impl SessionCache {
    /// The session if it was verified less than [`TTL`] ago.
    pub fn get(&self, session_id: Uuid) -> Option<Arc<VerifiedSession>> {
        // Read before the shared cache: a forget after this makes the copy below stale.
        let generation = self.generation.load(Ordering::SeqCst);
        let here = self.here.read(&session_id, |(verified, at, seen)| {
            (*seen == generation && at.elapsed() < TTL).then(|| verified.clone())
        });
        match here {
            Some(Some(verified)) => return Some(verified),
            Some(None) => self.here.remove(&session_id),
            None => {}
        }
        let (verified, at) = self.get_shared(session_id)?;
        // This thread's own copy, so its reference count is this thread's alone.
        let mine = Arc::new(VerifiedSession::clone(&verified));
        self.here.insert(session_id, (mine.clone(), at, generation));
        Some(mine)
    }

    fn get_shared(&self, session_id: Uuid) -> Option<(Arc<VerifiedSession>, Instant)> {
        let mut entries = self.lock();
        match entries.get(&session_id) {
            Some((verified, at)) if at.elapsed() < TTL => Some((verified.clone(), *at)),
            Some(_) => {
                entries.pop(&session_id);
                None
            }
            None => None,
        }
    }

    /// Taken before reading a session from the database, and handed back to [`Self::put`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Remembers a session read from the database since `generation` was taken, unless some
    /// session was forgotten meanwhile (the read may have seen it before it ended).
    pub fn put(&self, verified: VerifiedSession, generation: u64) {
        let mut entries = self.lock();
        if self.generation.load(Ordering::SeqCst) == generation {
            entries.put(verified.session.id, (Arc::new(verified), Instant::now()));
        }
    }

    /// Forgets sessions that just ended.
    pub fn forget(&self, session_ids: &[Uuid]) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        for id in session_ids {
            entries.pop(id);
        }
    }

    /// Forgets every session (when ends may have been missed).
    pub fn clear(&self) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<Uuid, (Arc<VerifiedSession>, Instant)>> {
        crate::sync::lock(&self.entries)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn verified() -> VerifiedSession {
        let now = Utc::now();
        let user = User {
            id: Uuid::now_v7(),
            email: None,
            name: Some("ann".into()),
            is_admin: false,
            created_at: now,
            updated_at: now,
        };
        VerifiedSession {
            session: Session {
                id: Uuid::now_v7(),
                user_id: user.id,
                provider: "dev".into(),
                created_at: now,
                expires_at: now + chrono::Duration::hours(1),
                revoked_at: None,
            },
            user,
        }
    }

    #[test]
    fn remembered_sessions_are_forgotten_when_they_end() {
        let cache = SessionCache::default();
        let session = verified();
        cache.put(session.clone(), cache.generation());
        assert!(cache.get(session.session.id).is_some());
        cache.forget(&[session.session.id]);
        assert!(cache.get(session.session.id).is_none());
    }

    #[test]
    fn a_session_ended_on_another_thread_is_forgotten_here_at_once() {
        let cache = SessionCache::default();
        let session = verified();
        let id = session.session.id;
        cache.put(session, cache.generation());
        // This thread now holds its own copy.
        assert!(cache.get(id).is_some());
        std::thread::scope(|scope| {
            scope.spawn(|| {
                assert!(cache.get(id).is_some(), "the other thread finds it too");
                cache.forget(&[id]);
            });
        });
        // The copy here predates the end: it is not answered.
        assert!(cache.get(id).is_none());
    }

    #[test]
    fn a_read_that_raced_an_end_is_not_remembered() {
        let cache = SessionCache::default();
        let session = verified();
        // A request starts reading the session; a logout ends it before the read returns.
        let generation = cache.generation();
        cache.forget(&[session.session.id]);
        cache.put(session.clone(), generation);
        assert!(cache.get(session.session.id).is_none());
        // Reads that begin after the end are remembered again.
        cache.put(session.clone(), cache.generation());
        assert!(cache.get(session.session.id).is_some());
        cache.clear();
        assert!(cache.get(session.session.id).is_none());
    }
}

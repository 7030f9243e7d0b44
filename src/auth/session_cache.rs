//! Recently verified sessions, so an authenticated request does not read the database.
//!
//! An access token is a signed JWT, but the session behind it can end early (logout, a reused
//! refresh token). Checking that on every request costs a database read, so active sessions are
//! remembered for [`TTL`]. The instance that ends a session forgets it at once and tells the
//! others over the event bus; should that notice be lost, [`TTL`] bounds how long another
//! instance keeps accepting the session.

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;
use uuid::Uuid;

use crate::store::{Session, User};

/// How long a verified session is trusted without asking the database again.
pub const TTL: Duration = Duration::from_secs(5);

/// Sessions remembered at most; the least recently used are forgotten first.
const CAPACITY: usize = 16_384;

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
    entries: Mutex<LruCache<Uuid, (VerifiedSession, Instant)>>,
}

impl Default for SessionCache {
    fn default() -> Self {
        Self {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(CAPACITY).expect("capacity is not zero"),
            )),
        }
    }
}

impl SessionCache {
    /// The session if it was verified less than [`TTL`] ago.
    pub fn get(&self, session_id: Uuid) -> Option<VerifiedSession> {
        let mut entries = self.lock();
        match entries.get(&session_id) {
            Some((verified, at)) if at.elapsed() < TTL => Some(verified.clone()),
            Some(_) => {
                entries.pop(&session_id);
                None
            }
            None => None,
        }
    }

    /// Remembers a session just read from the database.
    pub fn put(&self, verified: VerifiedSession) {
        self.lock()
            .put(verified.session.id, (verified, Instant::now()));
    }

    /// Forgets sessions that just ended.
    pub fn forget(&self, session_ids: &[Uuid]) {
        let mut entries = self.lock();
        for id in session_ids {
            entries.pop(id);
        }
    }

    /// Forgets every session (when ends may have been missed).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Uuid, (VerifiedSession, Instant)>> {
        // Every operation leaves the LRU consistent, so a panic elsewhere cannot corrupt it.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

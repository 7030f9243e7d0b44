//! Login attempts, sessions and refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{LoginAttempt, Rotation, Session, StoreError, User};

/// Persistence for the login flow and sessions.
#[async_trait]
pub trait AuthRepo {
    /// Records a login in progress.
    async fn insert_login_attempt(&self, attempt: &LoginAttempt) -> Result<(), StoreError>;

    /// Marks the attempt with this state hash as used and returns it; `None` when it is
    /// unknown or was already used. Expiry is the caller's to check.
    async fn consume_login_attempt(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginAttempt>, StoreError>;

    /// The unused attempt with this state hash, without using it up.
    async fn peek_login_attempt(
        &self,
        state_hash: &str,
    ) -> Result<Option<LoginAttempt>, StoreError>;

    /// A user that some provider asserted `email` for, as verified.
    async fn user_by_verified_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// Starts a session with its first refresh token.
    async fn create_session(
        &self,
        session: &Session,
        refresh_hash: &str,
        refresh_expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Finds a session by id.
    async fn session_by_id(&self, id: Uuid) -> Result<Option<Session>, StoreError>;

    /// Spends `old_hash` and stores `new_hash` in its place, atomically. A token spent less
    /// than `grace` ago whose successor is still unused is a concurrent replay; any other spent
    /// token revokes its session (see [`Rotation`]).
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<Rotation, StoreError>;

    /// Revokes one session; true when it was active.
    async fn revoke_session(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Revokes every active session of a user and returns their ids.
    async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError>;
}

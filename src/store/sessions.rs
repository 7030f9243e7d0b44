//! Sessions and their rotating refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Executor, FromRow};
use uuid::Uuid;

use super::dialect::{Dialect, SqlStore};
use super::{Rotation, Session, StoreError};

/// Persistence of sessions and refresh tokens.
#[async_trait]
pub trait SessionRepo {
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

const INSERT_SESSION: &str = "INSERT INTO sessions \
     (id, user_id, provider, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
const INSERT_REFRESH_TOKEN: &str = "INSERT INTO refresh_tokens \
     (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
const SESSION_BY_ID: &str = "SELECT * FROM sessions WHERE id = $1";
const SPEND_REFRESH_TOKEN: &str = "UPDATE refresh_tokens SET used_at = $2, successor_hash = $3 \
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING session_id";
const SPENT_REFRESH_TOKEN: &str = "SELECT session_id, used_at, successor_hash \
     FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL";
const UNSPENT_REFRESH_TOKENS: &str = "SELECT count(*) FROM refresh_tokens \
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2";
const REVOKE_SESSION: &str =
    "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
const REVOKE_USER_SESSIONS: &str = "UPDATE sessions SET revoked_at = $2 \
     WHERE user_id = $1 AND revoked_at IS NULL RETURNING id";

/// A spent refresh token: its session, when it was spent, and the token that replaced it.
type Spent = (Uuid, DateTime<Utc>, Option<String>);

#[async_trait]
impl<DB> SessionRepo for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> Session: FromRow<'r, DB::Row>,
    for<'r> Spent: FromRow<'r, DB::Row>,
    for<'r> (Uuid,): FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
{
    async fn create_session(
        &self,
        session: &Session,
        refresh_hash: &str,
        refresh_expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(INSERT_SESSION)
            .bind(session.id)
            .bind(session.user_id)
            .bind(session.provider.as_str())
            .bind(session.created_at)
            .bind(session.expires_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(INSERT_REFRESH_TOKEN)
            .bind(refresh_hash)
            .bind(session.id)
            .bind(session.created_at)
            .bind(refresh_expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_by_id(&self, id: Uuid) -> Result<Option<Session>, StoreError> {
        Ok(sqlx::query_as(SESSION_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Concurrent spends of one token serialise on this row: one wins, the others see it
        // spent (with its successor) once the winner commits.
        let spent: Option<Uuid> = sqlx::query_scalar(SPEND_REFRESH_TOKEN)
            .bind(old_hash)
            .bind(now)
            .bind(new_hash)
            .fetch_optional(&mut *tx)
            .await?;
        let outcome = match spent {
            Some(session_id) => match active_session(&mut *tx, session_id, now).await? {
                Some(session) => {
                    sqlx::query(INSERT_REFRESH_TOKEN)
                        .bind(new_hash)
                        .bind(session.id)
                        .bind(now)
                        .bind(new_expires_at)
                        .execute(&mut *tx)
                        .await?;
                    Rotation::Rotated(session)
                }
                None => Rotation::Invalid,
            },
            None => {
                let reused: Option<Spent> = sqlx::query_as(SPENT_REFRESH_TOKEN)
                    .bind(old_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                match reused {
                    Some((session_id, rotated_at, Some(successor_hash)))
                        if rotated_at + grace > now =>
                    {
                        let successor_unused: i64 = sqlx::query_scalar(UNSPENT_REFRESH_TOKENS)
                            .bind(successor_hash.as_str())
                            .bind(now)
                            .fetch_one(&mut *tx)
                            .await?;
                        match active_session(&mut *tx, session_id, now).await? {
                            Some(session) if successor_unused > 0 => Rotation::Replayed {
                                session,
                                successor_hash,
                                rotated_at,
                            },
                            Some(_) => revoke(&mut *tx, session_id, now).await?,
                            None => Rotation::Invalid,
                        }
                    }
                    Some((session_id, _, _)) => revoke(&mut *tx, session_id, now).await?,
                    None => Rotation::Invalid,
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn revoke_session(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(REVOKE_SESSION)
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) > 0)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError> {
        Ok(sqlx::query_scalar(REVOKE_USER_SESSIONS)
            .bind(user_id)
            .bind(now)
            .fetch_all(&self.pool)
            .await?)
    }
}

/// The session if it is still active at `now`.
async fn active_session<DB>(
    conn: &mut DB::Connection,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Session>, StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> Session: FromRow<'r, DB::Row>,
{
    let session: Option<Session> = sqlx::query_as(SESSION_BY_ID)
        .bind(session_id)
        .fetch_optional(conn)
        .await?;
    Ok(session.filter(|s| s.is_active(now)))
}

/// Revokes a session whose spent refresh token came back: it may have been stolen.
async fn revoke<DB>(
    conn: &mut DB::Connection,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Rotation, StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(REVOKE_SESSION)
        .bind(session_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(Rotation::Reused(session_id))
}

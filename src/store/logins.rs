//! Logins in progress: what the callback needs to finish one safely, used once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Executor, FromRow};
use uuid::Uuid;

use super::dialect::{Dialect, SqlStore};
use super::{LoginAttempt, StoreError, User};

/// Persistence of logins in progress.
#[async_trait]
pub trait LoginRepo {
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
}

const INSERT_LOGIN_ATTEMPT: &str = "INSERT INTO login_attempts \
     (state_hash, provider, pkce_verifier, code_challenge, browser_hash, nonce, redirect_to, \
     client_completes, link_user_id, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const PEEK_LOGIN_ATTEMPT: &str =
    "SELECT * FROM login_attempts WHERE state_hash = $1 AND consumed_at IS NULL";
const CONSUME_LOGIN_ATTEMPT: &str = "UPDATE login_attempts SET consumed_at = $2 \
     WHERE state_hash = $1 AND consumed_at IS NULL RETURNING *";
const USER_BY_VERIFIED_EMAIL: &str = "SELECT users.* FROM users \
     JOIN identities ON identities.user_id = users.id \
     WHERE lower(identities.email) = lower($1) AND identities.email_verified = TRUE \
     ORDER BY users.id LIMIT 1";

#[async_trait]
impl<DB> LoginRepo for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Option<Uuid>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> LoginAttempt: FromRow<'r, DB::Row>,
    for<'r> User: FromRow<'r, DB::Row>,
{
    async fn insert_login_attempt(&self, attempt: &LoginAttempt) -> Result<(), StoreError> {
        sqlx::query(INSERT_LOGIN_ATTEMPT)
            .bind(attempt.state_hash.as_str())
            .bind(attempt.provider.as_str())
            .bind(attempt.pkce_verifier.as_deref())
            .bind(attempt.code_challenge.as_deref())
            .bind(attempt.browser_hash.as_deref())
            .bind(attempt.nonce.as_str())
            .bind(attempt.redirect_to.as_deref())
            .bind(attempt.client_completes)
            .bind(attempt.link_user_id)
            .bind(attempt.created_at)
            .bind(attempt.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn consume_login_attempt(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginAttempt>, StoreError> {
        Ok(sqlx::query_as(CONSUME_LOGIN_ATTEMPT)
            .bind(state_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn peek_login_attempt(
        &self,
        state_hash: &str,
    ) -> Result<Option<LoginAttempt>, StoreError> {
        Ok(sqlx::query_as(PEEK_LOGIN_ATTEMPT)
            .bind(state_hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn user_by_verified_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        Ok(sqlx::query_as(USER_BY_VERIFIED_EMAIL)
            .bind(email)
            .fetch_optional(&self.pool)
            .await?)
    }
}

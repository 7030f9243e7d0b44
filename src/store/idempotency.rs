//! Idempotency keys: a request's key is claimed before the provider is called, and its response
//! stored after, so a retry replays it instead of acting twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Executor, FromRow};
use uuid::Uuid;

use super::dialect::{Dialect, SqlStore};
use super::{IdempotencyStart, StoreError};

/// Persistence of idempotency keys.
#[async_trait]
pub trait IdempotencyRepo {
    /// Claims `key` for a request with `fingerprint`, or says how it was used before.
    async fn begin_idempotent(
        &self,
        user_id: Uuid,
        operation: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<IdempotencyStart, StoreError>;

    /// Stores the response of a claimed key; later uses replay it.
    async fn complete_idempotent(
        &self,
        user_id: Uuid,
        operation: &str,
        key: &str,
        response: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Forgets a claimed key whose request failed, so the client may retry with it.
    async fn release_idempotent(
        &self,
        user_id: Uuid,
        operation: &str,
        key: &str,
    ) -> Result<(), StoreError>;
}

const CLAIM_KEY: &str = "INSERT INTO idempotency_keys \
     (user_id, operation, key, fingerprint, created_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (user_id, operation, key) DO NOTHING";
const KEY: &str = "SELECT fingerprint, response FROM idempotency_keys \
     WHERE user_id = $1 AND operation = $2 AND key = $3";
const COMPLETE_KEY: &str = "UPDATE idempotency_keys SET response = $4, completed_at = $5 \
     WHERE user_id = $1 AND operation = $2 AND key = $3";
const RELEASE_KEY: &str = "DELETE FROM idempotency_keys \
     WHERE user_id = $1 AND operation = $2 AND key = $3 AND response IS NULL";

#[async_trait]
impl<DB> IdempotencyRepo for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (String, Option<String>): FromRow<'r, DB::Row>,
{
    async fn begin_idempotent(
        &self,
        user_id: Uuid,
        operation: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<IdempotencyStart, StoreError> {
        let claimed = sqlx::query(CLAIM_KEY)
            .bind(user_id)
            .bind(operation)
            .bind(key)
            .bind(fingerprint)
            .bind(now)
            .execute(&self.pool)
            .await?;
        if DB::rows_affected(&claimed) == 1 {
            return Ok(IdempotencyStart::Fresh);
        }
        let (stored, response): (String, Option<String>) = sqlx::query_as(KEY)
            .bind(user_id)
            .bind(operation)
            .bind(key)
            .fetch_one(&self.pool)
            .await?;
        Ok(match response {
            _ if stored != fingerprint => IdempotencyStart::Mismatch,
            Some(response) => IdempotencyStart::Replay(response),
            None => IdempotencyStart::InFlight,
        })
    }

    async fn complete_idempotent(
        &self,
        user_id: Uuid,
        operation: &str,
        key: &str,
        response: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(COMPLETE_KEY)
            .bind(user_id)
            .bind(operation)
            .bind(key)
            .bind(response)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn release_idempotent(
        &self,
        user_id: Uuid,
        operation: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(RELEASE_KEY)
            .bind(user_id)
            .bind(operation)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

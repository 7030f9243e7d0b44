//! Retention: rows that stopped being useful are deleted on a schedule, so nothing sensitive is
//! kept longer than it serves a purpose and abandoned logins cannot fill the database.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Executor;
use tokio_util::sync::CancellationToken;

use super::dialect::{Dialect, SqlStore};
use super::{Store, StoreError};

/// How many rows one purge deleted, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Login attempts past their expiry (they can no longer be finished).
    pub login_attempts: u64,
    /// Refresh tokens past their expiry, or spent before the cutoff.
    pub refresh_tokens: u64,
    /// Idempotency records created before the cutoff.
    pub idempotency_keys: u64,
}

/// Deleting what retention no longer keeps.
#[async_trait]
pub trait RetentionRepo {
    /// Deletes expired login attempts, refresh tokens that expired or were spent before
    /// `cutoff`, and idempotency records created before `cutoff`.
    ///
    /// A spent refresh token is kept until `cutoff` so that its reuse is still recognised as
    /// theft (and revokes the session) for that long.
    async fn purge_expired(
        &self,
        now: DateTime<Utc>,
        cutoff: DateTime<Utc>,
    ) -> Result<Purged, StoreError>;
}

const PURGE_LOGIN_ATTEMPTS: &str = "DELETE FROM login_attempts WHERE expires_at < $1";
const PURGE_REFRESH_TOKENS: &str = "DELETE FROM refresh_tokens \
     WHERE expires_at < $1 OR (used_at IS NOT NULL AND used_at < $2)";
const PURGE_IDEMPOTENCY_KEYS: &str = "DELETE FROM idempotency_keys WHERE created_at < $1";

#[async_trait]
impl<DB> RetentionRepo for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    async fn purge_expired(
        &self,
        now: DateTime<Utc>,
        cutoff: DateTime<Utc>,
    ) -> Result<Purged, StoreError> {
        let mut tx = self.pool.begin().await?;
        let login_attempts = sqlx::query(PURGE_LOGIN_ATTEMPTS)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let refresh_tokens = sqlx::query(PURGE_REFRESH_TOKENS)
            .bind(now)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        let idempotency_keys = sqlx::query(PURGE_IDEMPOTENCY_KEYS)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Purged {
            login_attempts: DB::rows_affected(&login_attempts),
            refresh_tokens: DB::rows_affected(&refresh_tokens),
            idempotency_keys: DB::rows_affected(&idempotency_keys),
        })
    }
}

/// How often the retention job runs; it also runs once at start.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Purges every [`PURGE_INTERVAL`], keeping `window` of history, until `stop`.
pub async fn run_retention(store: Store, window: Duration, stop: CancellationToken) {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(1));
    let mut ticker = tokio::time::interval(PURGE_INTERVAL);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let now = Utc::now();
        match store.purge_expired(now, now - window).await {
            Ok(purged) => tracing::info!(
                login_attempts = purged.login_attempts,
                refresh_tokens = purged.refresh_tokens,
                idempotency_keys = purged.idempotency_keys,
                "retention purge done"
            ),
            // The next run tries again; nothing is lost by waiting.
            Err(err) => tracing::warn!(error = %err, "retention purge failed"),
        }
    }
}

//! Retention: rows that stopped being useful are deleted on a schedule, so nothing sensitive is
//! kept longer than it serves a purpose and abandoned logins cannot fill the database.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

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

pub(super) const PURGE_LOGIN_ATTEMPTS: &str = "DELETE FROM login_attempts WHERE expires_at < $1";
pub(super) const PURGE_REFRESH_TOKENS: &str = "DELETE FROM refresh_tokens \
     WHERE expires_at < $1 OR (used_at IS NOT NULL AND used_at < $2)";
pub(super) const PURGE_IDEMPOTENCY_KEYS: &str =
    "DELETE FROM idempotency_keys WHERE created_at < $1";

/// Implements [`RetentionRepo`] for a store with a `pool` field of an sqlx pool type.
macro_rules! impl_retention {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::RetentionRepo for $store {
            async fn purge_expired(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                cutoff: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::Purged, $crate::store::StoreError> {
                use super::retention::{
                    PURGE_IDEMPOTENCY_KEYS, PURGE_LOGIN_ATTEMPTS, PURGE_REFRESH_TOKENS,
                };
                let mut tx = self.pool.begin().await?;
                let login_attempts = sqlx::query(PURGE_LOGIN_ATTEMPTS)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let refresh_tokens = sqlx::query(PURGE_REFRESH_TOKENS)
                    .bind(now)
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let idempotency_keys = sqlx::query(PURGE_IDEMPOTENCY_KEYS)
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok($crate::store::Purged {
                    login_attempts,
                    refresh_tokens,
                    idempotency_keys,
                })
            }
        }
    };
}
pub(super) use impl_retention;

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

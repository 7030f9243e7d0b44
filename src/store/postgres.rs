//! The PostgreSQL backend, for production and for running several instances.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::Postgres;
use sqlx::postgres::PgPoolOptions;

use super::dialect::{Dialect, SqlStore};
use super::{Database, StoreError};

/// A PostgreSQL database.
pub type PgStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects to the server at `url`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self::new(pool))
    }
}

#[async_trait]
impl Database for SqlStore<Postgres> {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        Ok(sqlx::migrate!("migrations/postgres")
            .run(&self.pool)
            .await?)
    }

    async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let tracked: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        let applied: Vec<i64> = if tracked {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?
        } else {
            Vec::new()
        };
        Ok(super::not_applied(
            &sqlx::migrate!("migrations/postgres"),
            &applied,
        ))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn batch_reads(&self) -> &super::BatchReads {
        &self.batch_reads
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

impl Dialect for Postgres {
    /// Several instances claim concurrently: each skips rows another has locked.
    const CLAIM_DUE_EVENTS: &'static str = "UPDATE webhook_inbox SET locked_until = $1 WHERE seq IN (\
         SELECT seq FROM webhook_inbox WHERE status = 'pending' AND next_attempt_at <= $2 \
         AND (locked_until IS NULL OR locked_until <= $2) ORDER BY seq LIMIT $3 \
         FOR UPDATE SKIP LOCKED) RETURNING *";

    /// A transaction-scoped advisory lock, released at commit: events commit in cursor order, so
    /// a reader never passes one that may still appear.
    const APPEND_LOCK: &'static str = "SELECT pg_advisory_xact_lock(752601210001)";

    /// Other instances hear appends through `LISTEN`, in commit order.
    const NOTIFIES: bool = true;

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

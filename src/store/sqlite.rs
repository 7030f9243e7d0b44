//! The embedded SQLite backend: one file, WAL journal, foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::dialect::{Dialect, SqlStore};
use super::{Database, StoreError};

/// A SQLite database file.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating if needed) the database at `url`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?;
        create_private_file(options.get_filename())?;
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL sync is durable against process crashes, which is what the webhook
            // inbox's "2xx only once durable" promise needs; FULL would also survive power loss.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            // sqlx pings every idle connection before handing it out, a round trip to the
            // connection's worker thread that doubled the cost of a short read. A connection to
            // a local file cannot have been dropped by a peer; a failing one still errors on
            // its next statement.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(Self::new(pool))
    }
}

/// Creates the database file readable by its owner only (mode 0600) when it does not exist yet.
/// SQLite gives its `-wal` and `-shm` files the mode of the database file, so they follow.
fn create_private_file(path: &std::path::Path) -> Result<(), StoreError> {
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(StoreError::from(sqlx::Error::Io(err))),
    }
}

#[async_trait]
impl Database for SqlStore<Sqlite> {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        Ok(sqlx::migrate!("migrations/sqlite").run(&self.pool).await?)
    }

    async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let tracked: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&self.pool)
        .await?;
        let applied: Vec<i64> = if tracked == 0 {
            Vec::new()
        } else {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?
        };
        Ok(super::not_applied(
            &sqlx::migrate!("migrations/sqlite"),
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

impl Dialect for Sqlite {
    /// SQLite runs one writer at a time, so a plain `UPDATE ... RETURNING` claims atomically.
    const CLAIM_DUE_EVENTS: &'static str = "UPDATE webhook_inbox SET locked_until = $1 WHERE seq IN (\
         SELECT seq FROM webhook_inbox WHERE status = 'pending' AND next_attempt_at <= $2 \
         AND (locked_until IS NULL OR locked_until <= $2) ORDER BY seq LIMIT $3) RETURNING *";

    /// SQLite runs one writer at a time, so appends commit in cursor order; this no-op write only
    /// makes an append take the write lock before it reads the log, waiting its turn (a
    /// transaction that read first could not upgrade once another writer committed, and would
    /// fail at once).
    const APPEND_LOCK: &'static str =
        "UPDATE sqlite_sequence SET seq = seq WHERE name = 'payment_events'";

    /// Only one process uses the file; the in-process bus carries every notice.
    const NOTIFIES: bool = false;

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

//! Persistence: one [`Database`] contract, implemented for SQLite (the embedded default) and
//! PostgreSQL (production, several instances). See docs/decisions/0002-store-two-backends.md.
//!
//! Queries that are the same text on both backends are written once in [`portable`] and compiled
//! for each pool type; anything dialect-specific lives in the backend's own module.

mod auth;
mod batch;
mod error;
mod models;
mod notice;
mod payment_events;
mod payments;
mod portable;
mod postgres;
mod retention;
mod sqlite;
mod url;
mod users;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;

pub use auth::AuthRepo;
pub use batch::{BatchRead, BatchReads};
pub use error::StoreError;
pub use models::{
    BatchStep, EventPage, EventScope, IdempotencyStart, Identity, InboxEvent, InboxStats,
    InboxStatus, LoggedEvent, LoginAttempt, NewIdentity, NewInboxEvent, NewPaymentEvent, NewUser,
    PaymentChange, PaymentEventRow, PaymentRow, RefundRow, Rotation, Session, StepAction,
    StepResult, User,
};
#[cfg(test)]
pub(crate) use notice::logged as logged_event_for_tests;
pub use notice::{NOTICE_CHANNEL, Notice, decode_notices, encode_notices};
pub use payment_events::PaymentEventRepo;
pub use payments::PaymentRepo;
pub use retention::{PURGE_INTERVAL, Purged, RetentionRepo, run_retention};
pub use url::DatabaseUrl;
pub use users::UserRepo;
pub use webhooks::WebhookRepo;

/// A shared handle to the configured database.
pub type Store = Arc<dyn Database>;

/// Everything the services need from a database; both backends implement all of it.
#[async_trait]
pub trait Database:
    UserRepo
    + AuthRepo
    + WebhookRepo
    + PaymentEventRepo
    + PaymentRepo
    + RetentionRepo
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Runs the embedded migrations for this backend.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Cheap round trip proving the database answers (used by `/health/ready`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Descriptions of the migrations this build has that the database has not applied.
    async fn pending_migrations(&self) -> Result<Vec<String>, StoreError>;

    /// Counts of the batched reads executed so far.
    fn batch_reads(&self) -> &BatchReads;

    /// Closes every pooled connection; later calls fail.
    async fn close(&self);
}

/// Opens a pool for `url` (creating a SQLite file if it does not exist). Does not migrate.
pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Store, StoreError> {
    Ok(match url {
        DatabaseUrl::Sqlite(_) => {
            Arc::new(sqlite::SqliteStore::connect(url.expose(), max_connections).await?)
        }
        DatabaseUrl::Postgres(_) => {
            Arc::new(postgres::PgStore::connect(url.expose(), max_connections).await?)
        }
    })
}

/// The migrations of `migrator` whose versions are not among `applied`.
fn not_applied(migrator: &sqlx::migrate::Migrator, applied: &[i64]) -> Vec<String> {
    migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
        .map(|m| format!("{} {}", m.version, m.description))
        .collect()
}

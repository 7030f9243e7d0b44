//! Persistence: one [`Database`] contract, implemented for SQLite (the embedded default) and
//! PostgreSQL (production, several instances). See docs/decisions/0002-store-two-backends.md.
//!
//! Each repository's file holds its trait, its SQL and one implementation for [`SqlStore`],
//! generic over the backend; what differs between backends is a [`Dialect`]'s associated items.
//! The backend modules only open pools and run migrations.

mod batch;
mod dialect;
mod error;
mod idempotency;
mod inbox;
mod inbox_log;
mod logins;
mod models;
mod notice;
mod payment_changes;
mod payment_events;
mod payments;
mod postgres;
mod refunds;
mod retention;
mod sessions;
mod sqlite;
mod subscription_events;
mod subscriptions;
mod traces;
mod url;
mod users;

use std::sync::Arc;

use async_trait::async_trait;

pub use crate::domain::InboxStatus;
pub use batch::{BatchRead, BatchReads};
pub use dialect::{Dialect, SqlStore};
pub use error::StoreError;
pub use idempotency::IdempotencyRepo;
pub use inbox::WebhookRepo;
pub use logins::LoginRepo;
pub use models::{
    BatchStep, EventPage, EventScope, IdempotencyStart, Identity, InboxEvent, InboxStats,
    LoggedEvent, LoginAttempt, NewIdentity, NewInboxEvent, NewPaymentEvent, NewUser, PaymentChange,
    PaymentEventRow, PaymentRow, RefundRow, Rotation, Session, StepAction, StepResult, User,
};
#[cfg(test)]
pub(crate) use notice::logged as logged_event_for_tests;
pub use notice::{LogSubject, NOTICE_CHANNEL, Notice, decode_notices, encode_notices};
pub use payment_changes::PaymentChangeRepo;
pub use payment_events::PaymentEventRepo;
pub use payments::PaymentRepo;
pub use postgres::PgStore;
pub use refunds::RefundRepo;
pub use retention::{PURGE_INTERVAL, Purged, RetentionRepo, run_retention};
pub use sessions::SessionRepo;
pub use sqlite::SqliteStore;
pub use subscription_events::{
    LoggedSubscriptionEvent, NewSubscriptionEvent, SubscriptionEventRow,
};
pub use subscriptions::{
    SubscriptionRepo, SubscriptionRow, SubscriptionWrite, SubscriptionWritten,
};
pub use traces::TraceRepo;
pub use url::DatabaseUrl;
pub use users::UserRepo;

/// A shared handle to the configured database.
pub type Store = Arc<dyn Database>;

/// Everything the services need from a database; both backends implement all of it.
#[async_trait]
pub trait Database:
    UserRepo
    + LoginRepo
    + SessionRepo
    + WebhookRepo
    + PaymentEventRepo
    + PaymentRepo
    + PaymentChangeRepo
    + IdempotencyRepo
    + RefundRepo
    + RetentionRepo
    + TraceRepo
    + SubscriptionRepo
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
            Arc::new(SqliteStore::connect(url.expose(), max_connections).await?)
        }
        DatabaseUrl::Postgres(_) => {
            Arc::new(PgStore::connect(url.expose(), max_connections).await?)
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

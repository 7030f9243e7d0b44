//! Subscriptions: recording them with their first event, guarded writes that log their change and
//! finish the inbox event behind it in one transaction, and reading them and their events back.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Executor, FromRow};
use uuid::Uuid;

use super::dialect::{Dialect, SqlStore};
use super::inbox_log::InboxLog;
use super::subscription_events::{
    EVENTS_OF_USER, LoggedSubscriptionEvent, NewSubscriptionEvent, SUBJECT, SubscriptionEventRow,
    append,
};
use super::{InboxStatus, StoreError};
use crate::domain::SubscriptionStatus;

/// A subscription as recorded.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SubscriptionRow {
    /// Our id.
    pub id: Uuid,
    /// Who subscribed.
    pub user_id: Uuid,
    /// `stripe` or `sandbox`.
    pub provider: String,
    /// The provider's id (`sub_...`).
    pub provider_subscription_id: String,
    /// The recurring price billed.
    pub price_id: String,
    /// Units of the price.
    pub quantity: i64,
    /// Where it is.
    pub status: SubscriptionStatus,
    /// End of the paid period.
    pub current_period_end: Option<DateTime<Utc>>,
    /// Whether it ends at the end of the period.
    pub cancel_at_period_end: bool,
    /// The latest invoice's provider id.
    pub latest_invoice_id: Option<String>,
    /// Its amount due, in minor units.
    pub latest_invoice_amount_due: Option<i64>,
    /// Its currency (lower-case ISO-4217).
    pub latest_invoice_currency: Option<String>,
    /// Its status as the provider names it (`open`, `paid`, ...).
    pub latest_invoice_status: Option<String>,
    /// Its hosted page.
    pub latest_invoice_url: Option<String>,
    /// The `created` time (Unix seconds) of the newest provider event applied; 0 before any.
    pub provider_event_at: i64,
    /// Bumped by every write.
    pub version: i64,
    /// Recorded.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A guarded write of a subscription's new state.
#[derive(Debug, Clone)]
pub struct SubscriptionWrite {
    /// The state to write (its `version` is the one read; the write bumps it).
    pub next: SubscriptionRow,
    /// The event to log, when the change is one clients see.
    pub log: Option<NewSubscriptionEvent>,
}

/// What a guarded write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionWritten {
    /// Written (and logged, when asked).
    Written(Option<LoggedSubscriptionEvent>),
    /// Another writer changed the subscription since it was read: nothing was written.
    Contended,
}

/// Persistence of subscriptions.
#[async_trait]
pub trait SubscriptionRepo {
    /// Records a new subscription and its `created` event, atomically.
    async fn insert_subscription(
        &self,
        subscription: &SubscriptionRow,
    ) -> Result<LoggedSubscriptionEvent, StoreError>;

    /// Finds a subscription by our id.
    async fn subscription_by_id(&self, id: Uuid) -> Result<Option<SubscriptionRow>, StoreError>;

    /// Finds subscriptions by the provider's ids (one query); unknown ids are simply absent.
    async fn subscriptions_by_provider_ids(
        &self,
        ids: &[String],
    ) -> Result<Vec<SubscriptionRow>, StoreError>;

    /// A user's subscriptions, newest first.
    async fn subscriptions_of_user(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<SubscriptionRow>, StoreError>;

    /// In one transaction at `now`: writes `write` if the subscription's version is still the one
    /// it read (logging its event), and finishes the inbox event `inbox` if given. When the
    /// write is contended nothing is written, the inbox event included.
    async fn write_subscription(
        &self,
        write: Option<&SubscriptionWrite>,
        inbox: Option<(i64, InboxStatus)>,
        now: DateTime<Utc>,
    ) -> Result<SubscriptionWritten, StoreError>;

    /// A user's subscription events with a cursor above `after`, oldest first, at most `limit`.
    async fn subscription_events_after(
        &self,
        user_id: Uuid,
        after: i64,
        limit: i64,
    ) -> Result<Vec<SubscriptionEventRow>, StoreError>;

    /// The cursor of a user's newest subscription event (0 when there is none).
    async fn latest_subscription_cursor(&self, user_id: Uuid) -> Result<i64, StoreError>;
}

const INSERT: &str = "INSERT INTO subscriptions (id, user_id, provider, provider_subscription_id, \
     price_id, quantity, status, current_period_end, cancel_at_period_end, latest_invoice_id, \
     latest_invoice_amount_due, latest_invoice_currency, latest_invoice_status, latest_invoice_url, \
     provider_event_at, version, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";
const UPDATE: &str = "UPDATE subscriptions SET price_id = $1, quantity = $2, status = $3, \
     current_period_end = $4, cancel_at_period_end = $5, latest_invoice_id = $6, \
     latest_invoice_amount_due = $7, latest_invoice_currency = $8, latest_invoice_status = $9, \
     latest_invoice_url = $10, provider_event_at = $11, version = version + 1, updated_at = $12 \
     WHERE id = $13 AND version = $14";
const BY_ID: &str = "SELECT * FROM subscriptions WHERE id = $1";
const BY_PROVIDER_IDS: &str = "SELECT * FROM subscriptions WHERE provider_subscription_id IN ";
const OF_USER: &str = "SELECT * FROM subscriptions WHERE user_id = $1 ORDER BY id DESC";
const LATEST_CURSOR: &str = "SELECT COALESCE(MAX(cursor), 0) FROM payment_events \
     WHERE user_id = $1 AND subject = $2";

#[async_trait]
impl<DB> SubscriptionRepo for SqlStore<DB>
where
    DB: Dialect + InboxLog,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> SubscriptionStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<DateTime<Utc>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> SubscriptionRow: FromRow<'r, DB::Row>,
    for<'r> SubscriptionEventRow: FromRow<'r, DB::Row>,
    for<'r> (i32,): FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
{
    async fn insert_subscription(
        &self,
        s: &SubscriptionRow,
    ) -> Result<LoggedSubscriptionEvent, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(INSERT)
            .bind(s.id)
            .bind(s.user_id)
            .bind(s.provider.as_str())
            .bind(s.provider_subscription_id.as_str())
            .bind(s.price_id.as_str())
            .bind(s.quantity)
            .bind(s.status)
            .bind(s.current_period_end)
            .bind(s.cancel_at_period_end)
            .bind(s.latest_invoice_id.clone())
            .bind(s.latest_invoice_amount_due)
            .bind(s.latest_invoice_currency.clone())
            .bind(s.latest_invoice_status.clone())
            .bind(s.latest_invoice_url.clone())
            .bind(s.provider_event_at)
            .bind(s.version)
            .bind(s.created_at)
            .bind(s.updated_at)
            .execute(&mut *tx)
            .await?;
        let created = NewSubscriptionEvent {
            kind: "created".into(),
            source_event_id: None,
        };
        let logged = append::<DB>(
            &mut *tx,
            (s.id, s.user_id, s.status),
            &created,
            s.created_at,
        )
        .await?;
        tx.commit().await?;
        Ok(logged)
    }

    async fn subscription_by_id(&self, id: Uuid) -> Result<Option<SubscriptionRow>, StoreError> {
        Ok(sqlx::query_as(BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn subscriptions_by_provider_ids(
        &self,
        ids: &[String],
    ) -> Result<Vec<SubscriptionRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = sqlx::QueryBuilder::<DB>::new(BY_PROVIDER_IDS);
        super::dialect::push_list(&mut query, ids.iter().cloned());
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn subscriptions_of_user(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<SubscriptionRow>, StoreError> {
        Ok(sqlx::query_as(OF_USER)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn write_subscription(
        &self,
        write: Option<&SubscriptionWrite>,
        inbox: Option<(i64, InboxStatus)>,
        now: DateTime<Utc>,
    ) -> Result<SubscriptionWritten, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut logged = None;
        if let Some(write) = write {
            let s = &write.next;
            let result = sqlx::query(UPDATE)
                .bind(s.price_id.as_str())
                .bind(s.quantity)
                .bind(s.status)
                .bind(s.current_period_end)
                .bind(s.cancel_at_period_end)
                .bind(s.latest_invoice_id.clone())
                .bind(s.latest_invoice_amount_due)
                .bind(s.latest_invoice_currency.clone())
                .bind(s.latest_invoice_status.clone())
                .bind(s.latest_invoice_url.clone())
                .bind(s.provider_event_at)
                .bind(now)
                .bind(s.id)
                .bind(s.version)
                .execute(&mut *tx)
                .await?;
            if DB::rows_affected(&result) == 0 {
                return Ok(SubscriptionWritten::Contended);
            }
            if let Some(event) = &write.log {
                logged =
                    Some(append::<DB>(&mut *tx, (s.id, s.user_id, s.status), event, now).await?);
            }
        }
        if let Some(finished) = inbox {
            DB::finish_inbox_events(&mut *tx, &[finished], now).await?;
        }
        tx.commit().await?;
        Ok(SubscriptionWritten::Written(logged))
    }

    async fn subscription_events_after(
        &self,
        user_id: Uuid,
        after: i64,
        limit: i64,
    ) -> Result<Vec<SubscriptionEventRow>, StoreError> {
        Ok(sqlx::query_as(EVENTS_OF_USER)
            .bind(user_id)
            .bind(SUBJECT)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn latest_subscription_cursor(&self, user_id: Uuid) -> Result<i64, StoreError> {
        let (cursor,): (i64,) = sqlx::query_as(LATEST_CURSOR)
            .bind(user_id)
            .bind(SUBJECT)
            .fetch_one(&self.pool)
            .await?;
        Ok(cursor)
    }
}

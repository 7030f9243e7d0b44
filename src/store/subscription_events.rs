//! Subscription changes in the one event log: appended under the log's lock (decision 0009), so
//! they share its cursors and its visibility rule with payment events, and read back per user.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Executor, FromRow};
use uuid::Uuid;

use super::dialect::Dialect;
use super::{LogSubject, NOTICE_CHANNEL, Notice, StoreError, encode_notices};
use crate::domain::SubscriptionStatus;

/// One change to a subscription, in the log's order.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, Deserialize)]
pub struct SubscriptionEventRow {
    /// Global, increasing position in the log (shared with payment events).
    pub cursor: i64,
    /// The subscription.
    pub subscription_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// Position within the subscription's own history, from 1.
    pub sequence: i32,
    /// What happened: `created`, `plan_changed`, `cancellation_scheduled`, `resumed`,
    /// `canceled`, `refreshed`, or the provider's event type (`invoice.paid`).
    pub kind: String,
    /// The subscription's status after the change.
    pub status: SubscriptionStatus,
    /// The provider event that caused it, if any.
    pub source_event_id: Option<String>,
    /// When it was applied.
    pub occurred_at: DateTime<Utc>,
}

/// A subscription change about to be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscriptionEvent {
    /// What happened (see [`SubscriptionEventRow::kind`]).
    pub kind: String,
    /// The provider event behind it.
    pub source_event_id: Option<String>,
}

/// A subscription event just appended, with the cursor of the event logged before it (in any
/// scope), like [`super::LoggedEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedSubscriptionEvent {
    /// The event.
    pub event: SubscriptionEventRow,
    /// Cursor of the event before it in the whole log.
    pub previous: i64,
}

impl From<&LoggedSubscriptionEvent> for Notice {
    fn from(logged: &LoggedSubscriptionEvent) -> Self {
        Notice {
            previous: logged.previous,
            cursor: logged.event.cursor,
            payment_id: logged.event.subscription_id,
            user_id: logged.event.user_id,
            // Subscription feeds read their events from the store; payment feeds skip them.
            event: None,
            subject: LogSubject::Subscription,
        }
    }
}

/// The stored subject of subscription events.
pub(super) const SUBJECT: &str = "subscription";

const NEXT_SEQUENCE: &str =
    "SELECT COALESCE(MAX(sequence), 0) + 1 FROM payment_events WHERE payment_id = $1";
const INSERT_EVENT: &str = "INSERT INTO payment_events \
     (payment_id, user_id, sequence, kind, status, amount_refunded, source_event_id, occurred_at, subject) \
     VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8) RETURNING cursor, payment_id AS subscription_id, \
     user_id, sequence, kind, status, source_event_id, occurred_at";
const PREVIOUS_CURSOR: &str =
    "SELECT COALESCE(MAX(cursor), 0) FROM payment_events WHERE cursor < $1";
const NOTIFY: &str = "SELECT pg_notify($1, $2)";
/// A user's subscription events after a cursor (`$1` user, `$2` [`SUBJECT`], `$3` cursor, `$4`
/// limit).
pub(super) const EVENTS_OF_USER: &str = "SELECT cursor, payment_id AS subscription_id, user_id, \
     sequence, kind, status, source_event_id, occurred_at FROM payment_events \
     WHERE user_id = $1 AND subject = $2 AND cursor > $3 ORDER BY cursor LIMIT $4";

/// Appends a subscription's event inside the caller's transaction, after taking the log's append
/// lock (held until that transaction ends), and announces it with NOTIFY where the backend does.
pub(super) async fn append<DB>(
    conn: &mut DB::Connection,
    subscription: (Uuid, Uuid, SubscriptionStatus),
    new: &NewSubscriptionEvent,
    now: DateTime<Utc>,
) -> Result<LoggedSubscriptionEvent, StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> SubscriptionStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (i32,): FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> SubscriptionEventRow: FromRow<'r, DB::Row>,
{
    let (subscription_id, user_id, status) = subscription;
    sqlx::query(DB::APPEND_LOCK).execute(&mut *conn).await?;
    let (sequence,): (i32,) = sqlx::query_as(NEXT_SEQUENCE)
        .bind(subscription_id)
        .fetch_one(&mut *conn)
        .await?;
    let event: SubscriptionEventRow = sqlx::query_as(INSERT_EVENT)
        .bind(subscription_id)
        .bind(user_id)
        .bind(sequence)
        .bind(new.kind.clone())
        .bind(status)
        .bind(new.source_event_id.clone())
        .bind(now)
        .bind(SUBJECT)
        .fetch_one(&mut *conn)
        .await?;
    let (previous,): (i64,) = sqlx::query_as(PREVIOUS_CURSOR)
        .bind(event.cursor)
        .fetch_one(&mut *conn)
        .await?;
    let logged = LoggedSubscriptionEvent { previous, event };
    if DB::NOTIFIES {
        // Sent at commit, in commit order, like every other append to the log.
        for payload in encode_notices(&[Notice::from(&logged)]) {
            sqlx::query(NOTIFY)
                .bind(NOTICE_CHANNEL)
                .bind(payload)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(logged)
}

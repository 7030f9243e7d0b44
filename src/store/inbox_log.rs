//! Finishing inbox events inside the transaction that applies them.

use chrono::{DateTime, Utc};
use sqlx::{Executor, QueryBuilder};

use super::dialect::{Dialect, push_list};
use super::{InboxStatus, StoreError};

const FINISH_EVENTS: &str = "UPDATE webhook_inbox SET locked_until = NULL, status = ";

/// Finishing inbox events inside a caller's transaction, for the repository that applies them.
pub(super) trait InboxLog: Dialect {
    /// Marks inbox events finished at `now`, one statement per status.
    fn finish_inbox_events<'c>(
        conn: &'c mut Self::Connection,
        finished: &'c [(i64, InboxStatus)],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'c;
}

impl<DB> InboxLog for DB
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> InboxStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    async fn finish_inbox_events<'c>(
        conn: &'c mut DB::Connection,
        finished: &'c [(i64, InboxStatus)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut statuses: Vec<InboxStatus> = Vec::new();
        for (_, status) in finished {
            if !statuses.contains(status) {
                statuses.push(*status);
            }
        }
        for status in statuses {
            let mut query = QueryBuilder::<DB>::new(FINISH_EVENTS);
            query.push_bind(status);
            query.push(", processed_at = ");
            query.push_bind(now);
            query.push(" WHERE seq IN ");
            let seqs = finished.iter().filter(|(_, s)| *s == status);
            push_list(&mut query, seqs.map(|(seq, _)| *seq));
            query.build().execute(&mut *conn).await?;
        }
        Ok(())
    }
}

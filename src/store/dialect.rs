//! The store type, generic over the backend, and the little that differs between backends.

use sqlx::{Pool, QueryBuilder};
use uuid::Uuid;

use super::BatchReads;

/// A database of one backend: its pool and counts of the batched reads it ran.
pub struct SqlStore<DB: sqlx::Database> {
    pub(super) pool: Pool<DB>,
    pub(super) batch_reads: BatchReads,
}

impl<DB: sqlx::Database> SqlStore<DB> {
    /// Wraps an open pool.
    pub(super) fn new(pool: Pool<DB>) -> Self {
        Self {
            pool,
            batch_reads: BatchReads::default(),
        }
    }
}

/// What a backend does its own way; every other query is the same text on both.
pub trait Dialect: sqlx::Database<Arguments: sqlx::IntoArguments<Self>> {
    /// Claims due inbox events: sets `locked_until = $1` on up to `$3` pending events due at
    /// `$2` whose claim has run out, and returns them.
    const CLAIM_DUE_EVENTS: &'static str;

    /// A statement that serialises appends to the event log until the transaction ends, so
    /// events commit in cursor order.
    const APPEND_LOCK: &'static str;

    /// Whether an append announces its events with `NOTIFY` inside its transaction.
    const NOTIFIES: bool;

    /// How many rows a statement changed (each driver reports it through its own type).
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

/// Appends `(a, b, ...)` as bound parameters.
pub(super) fn push_list<DB, T>(query: &mut QueryBuilder<DB>, items: impl IntoIterator<Item = T>)
where
    DB: sqlx::Database,
    T: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    query.push("(");
    let mut separated = query.separated(", ");
    for item in items {
        separated.push_bind(item);
    }
    separated.push_unseparated(")");
}

/// Appends `(id1, id2, ...)` as bound parameters.
pub(super) fn push_ids<DB>(query: &mut QueryBuilder<DB>, ids: &[Uuid])
where
    DB: sqlx::Database,
    Uuid: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    push_list(query, ids.iter().copied());
}

//! One store read for many subscribers. A notice wakes every feed of its scope at once; when
//! thousands of sockets watch the same payment, they ask the store the same question at the
//! same moment, so the first asks and the rest wait for its answer.
//!
//! A shared answer may have been read before the caller's notice was sent; the feed checks that
//! it reaches the notice's cursor and reads alone otherwise (see `feed.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared, WeakShared};

use crate::store::{EventPage, EventScope, Store, StoreError};
use crate::sync::lock;

type Rows = Arc<EventPage>;
type Read = Shared<BoxFuture<'static, Option<Rows>>>;

/// Entries held before the ones nobody waits for any more are swept out.
const SWEEP_AT: usize = 1024;

/// The same question asked of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Question {
    scope: EventScope,
    after: i64,
    limit: i64,
}

/// Store reads in flight, by question. The map holds them weakly: a read whose callers all
/// went away (their sockets closed) is dropped with them, releasing its pooled connection,
/// instead of waiting forever in the map for someone to poll it.
#[derive(Default)]
pub struct SharedReads {
    in_flight: Mutex<HashMap<Question, WeakShared<BoxFuture<'static, Option<Rows>>>>>,
}

impl SharedReads {
    /// Events of `scope` after `after`, at most `limit`, with the log's horizon: the answer of a read in flight for the
    /// same question, or of a new read that later callers may share.
    pub async fn events_after(
        self: &Arc<Self>,
        store: &Store,
        scope: EventScope,
        after: i64,
        limit: i64,
    ) -> Result<EventPage, StoreError> {
        let question = Question {
            scope,
            after,
            limit,
        };
        let read = {
            let mut in_flight = lock(&self.in_flight);
            match in_flight.get(&question).and_then(WeakShared::upgrade) {
                Some(read) => read,
                None => {
                    if in_flight.len() >= SWEEP_AT {
                        in_flight.retain(|_, read| read.upgrade().is_some());
                    }
                    let read = self.start(store.clone(), question);
                    if let Some(weak) = read.downgrade() {
                        in_flight.insert(question, weak);
                    }
                    read
                }
            }
        };
        match read.await {
            Some(rows) => Ok(rows.as_ref().clone()),
            // Errors are not shared (they cannot be cloned); asking alone reports the cause.
            None => store.payment_events_page(scope, after, limit).await,
        }
    }

    fn start(self: &Arc<Self>, store: Store, question: Question) -> Read {
        let reads = Arc::downgrade(self);
        async move {
            let rows = store
                .payment_events_page(question.scope, question.after, question.limit)
                .await;
            // Answered: later callers must ask again, since newer events may exist by then.
            if let Some(reads) = reads.upgrade() {
                lock(&reads.in_flight).remove(&question);
            }
            rows.ok().map(Arc::new)
        }
        .boxed()
        .shared()
    }
}

#[cfg(test)]
mod tests {
    use std::task::Poll;
    use std::time::Duration;

    use uuid::Uuid;

    use super::*;
    use crate::store::DatabaseUrl;

    /// A migrated SQLite store whose pool holds a single connection.
    async fn one_connection_store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("reads.db").display());
        let store = crate::store::connect(&DatabaseUrl::Sqlite(url.into()), 1)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    #[tokio::test]
    async fn a_read_whose_callers_left_gives_its_connection_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = one_connection_store(&dir).await;
        let reads = Arc::new(SharedReads::default());
        let scope = EventScope::User(Uuid::now_v7());
        // A subscriber starts a read, which takes the pool's only connection, then goes away.
        let mut abandoned = Box::pin(reads.events_after(&store, scope, 0, 10));
        let first_poll = futures_util::poll!(abandoned.as_mut());
        assert!(
            matches!(first_poll, Poll::Pending),
            "the read finished at once"
        );
        drop(abandoned);
        // Another question needs that connection; it must not wait on a read nobody polls.
        let other = tokio::time::timeout(
            Duration::from_secs(10),
            reads.events_after(&store, scope, 5, 10),
        )
        .await
        .expect("the abandoned read still holds the connection");
        assert!(other.unwrap().events.is_empty());
    }

    #[tokio::test]
    async fn callers_asking_together_get_the_same_answer() {
        let dir = tempfile::tempdir().unwrap();
        let store = one_connection_store(&dir).await;
        let reads = Arc::new(SharedReads::default());
        let scope = EventScope::User(Uuid::now_v7());
        let (a, b) = tokio::join!(
            reads.events_after(&store, scope, 0, 10),
            reads.events_after(&store, scope, 0, 10)
        );
        assert_eq!(a.unwrap(), b.unwrap());
        // Answered: the question is no longer in flight.
        assert!(lock(&reads.in_flight).is_empty());
    }
}

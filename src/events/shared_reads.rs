//! One store read for many subscribers. A notice wakes every feed of its scope at once; when
//! thousands of sockets watch the same payment, they ask the store the same question at the
//! same moment, so the first asks and the rest wait for its answer.
//!
//! A shared answer may have been read before the caller's notice was sent; the feed checks that
//! it reaches the notice's cursor and reads alone otherwise (see `feed.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::store::{EventScope, PaymentEventRow, Store, StoreError};

type Rows = Arc<Vec<PaymentEventRow>>;

/// The same question asked of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Question {
    scope: EventScope,
    after: i64,
    limit: i64,
}

/// Store reads in flight, by question.
#[derive(Default)]
pub struct SharedReads {
    in_flight: Mutex<HashMap<Question, Shared<BoxFuture<'static, Option<Rows>>>>>,
}

impl SharedReads {
    /// Events of `scope` after `after`, at most `limit`: the answer of a read in flight for the
    /// same question, or of a new read that later callers may share.
    pub async fn events_after(
        self: &Arc<Self>,
        store: &Store,
        scope: EventScope,
        after: i64,
        limit: i64,
    ) -> Result<Vec<PaymentEventRow>, StoreError> {
        let question = Question {
            scope,
            after,
            limit,
        };
        let read = lock(&self.in_flight)
            .entry(question)
            .or_insert_with(|| self.start(store.clone(), question))
            .clone();
        match read.await {
            Some(rows) => Ok(rows.as_ref().clone()),
            // Errors are not shared (they cannot be cloned); asking alone reports the cause.
            None => store.payment_events_after(scope, after, limit).await,
        }
    }

    fn start(
        self: &Arc<Self>,
        store: Store,
        question: Question,
    ) -> Shared<BoxFuture<'static, Option<Rows>>> {
        let reads = Arc::downgrade(self);
        async move {
            let rows = store
                .payment_events_after(question.scope, question.after, question.limit)
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The map stays consistent across a panic elsewhere: recover it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

//! A single cached document (discovery, JWKS, the price catalog) that is refreshed after a TTL and served stale
//! while its provider cannot be reached.
//!
//! Refreshes are single-flight: callers that find the value missing or old while another
//! caller is already fetching wait for that fetch and share its outcome, so a burst of requests
//! after expiry (or a flood of tokens naming an unknown key) costs the provider one call.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::providers::resilience::ProviderError;

/// One cached value with the time it was fetched.
pub struct Cached<T> {
    ttl: Duration,
    slot: RwLock<Option<(Arc<T>, Instant)>>,
    /// Held while fetching; the outcome of the last fetch, with when it finished.
    fetching: tokio::sync::Mutex<Option<LastFetch<T>>>,
}

/// When the last fetch finished, and what it returned.
type LastFetch<T> = (Instant, Result<Arc<T>, ProviderError>);

impl<T> Cached<T> {
    /// An empty cache whose value counts as fresh for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slot: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached value if it is younger than `max_age`.
    pub fn fresh(&self, max_age: Duration) -> Option<Arc<T>> {
        let slot = self
            .slot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.as_ref()
            .filter(|(_, fetched)| fetched.elapsed() < max_age)
            .map(|(value, _)| value.clone())
    }

    /// The cached value at any age.
    pub fn any(&self) -> Option<Arc<T>> {
        self.fresh(Duration::MAX)
    }

    /// The value, fetching it when missing or older than the TTL. When fetching fails and an
    /// older value exists, that value is served (stale) instead of the error.
    pub async fn get_or_fetch<F, Fut>(&self, fetch: F) -> Result<Arc<T>, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        if let Some(value) = self.fresh(self.ttl) {
            return Ok(value);
        }
        self.refresh(fetch).await
    }

    /// Fetches now, unless a fetch that finished after this call began already did; on failure
    /// serves the stale value if there is one.
    pub async fn refresh<F, Fut>(&self, fetch: F) -> Result<Arc<T>, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let asked = Instant::now();
        let mut last = self.fetching.lock().await;
        let outcome = match last.as_ref() {
            // Someone fetched while this caller waited for its turn: share their outcome.
            Some((finished, outcome)) if *finished >= asked => outcome.clone(),
            _ => {
                let outcome = fetch().await.map(Arc::new);
                if let Ok(value) = &outcome {
                    let mut slot = self
                        .slot
                        .write()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    *slot = Some((value.clone(), Instant::now()));
                }
                *last = Some((Instant::now(), outcome.clone()));
                outcome
            }
        };
        drop(last);
        match outcome {
            Ok(value) => Ok(value),
            Err(err) => match self.any() {
                Some(stale) => {
                    tracing::warn!(error = %err, "provider unreachable; serving the cached copy");
                    Ok(stale)
                }
                None => Err(err),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_refreshes_share_one_fetch() {
        let cache: Arc<Cached<u32>> = Arc::new(Cached::new(Duration::from_secs(60)));
        let (fetches, started) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let gate = Arc::new(tokio::sync::Notify::new());
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let (cache, fetches, gate) = (cache.clone(), fetches.clone(), gate.clone());
                let started = started.clone();
                tokio::spawn(async move {
                    // Nothing between here and the cache's lock awaits: once counted, a caller
                    // is waiting for the fetch (the test runtime runs one task at a time).
                    started.fetch_add(1, Ordering::SeqCst);
                    cache
                        .get_or_fetch(|| async move {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            // Held until every caller is waiting behind this fetch.
                            gate.notified().await;
                            Ok::<_, ProviderError>(7)
                        })
                        .await
                })
            })
            .collect();
        // Let every caller reach the cache, then release the one fetch.
        while started.load(Ordering::SeqCst) < 50 || fetches.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // Wakes every fetch that is waiting (without single flight there would be fifty).
        gate.notify_waiters();
        for caller in callers {
            assert_eq!(*caller.await.unwrap().unwrap(), 7);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn waiters_share_a_failure_instead_of_retrying_one_by_one() {
        let cache: Arc<Cached<u32>> = Arc::new(Cached::new(Duration::from_secs(60)));
        let (fetches, started) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let gate = Arc::new(tokio::sync::Notify::new());
        let callers: Vec<_> = (0..20)
            .map(|_| {
                let (cache, fetches, gate) = (cache.clone(), fetches.clone(), gate.clone());
                let started = started.clone();
                tokio::spawn(async move {
                    // Nothing between here and the cache's lock awaits: once counted, a caller
                    // is waiting for the fetch (the test runtime runs one task at a time).
                    started.fetch_add(1, Ordering::SeqCst);
                    cache
                        .refresh(|| async move {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            gate.notified().await;
                            Err::<u32, _>(ProviderError::Timeout)
                        })
                        .await
                })
            })
            .collect();
        while started.load(Ordering::SeqCst) < 20 || fetches.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        gate.notify_waiters();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), Err(ProviderError::Timeout));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_value_is_served_when_refresh_fails() {
        let cache = Cached::new(Duration::from_secs(60));
        let first = cache
            .get_or_fetch(|| async { Ok::<_, ProviderError>(1) })
            .await
            .unwrap();
        assert_eq!(*first, 1);
        // Fresh: no fetch happens.
        let again = cache
            .get_or_fetch(|| async { panic!("no fetch while fresh") })
            .await
            .unwrap();
        assert_eq!(*again, 1);
        tokio::time::advance(Duration::from_secs(61)).await;
        let stale = cache
            .get_or_fetch(|| async { Err(ProviderError::Timeout) })
            .await
            .expect("stale copy");
        assert_eq!(*stale, 1);
        let empty: Cached<u8> = Cached::new(Duration::from_secs(1));
        assert!(
            empty
                .get_or_fetch(|| async { Err(ProviderError::Timeout) })
                .await
                .is_err()
        );
    }
}

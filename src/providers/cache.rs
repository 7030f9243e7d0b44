//! A single cached document (discovery, JWKS, the price catalog) that is refreshed after a TTL and served stale
//! while its provider cannot be reached.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::providers::resilience::ProviderError;

/// One cached value with the time it was fetched.
pub struct Cached<T> {
    ttl: Duration,
    slot: RwLock<Option<(Arc<T>, Instant)>>,
}

impl<T> Cached<T> {
    /// An empty cache whose value counts as fresh for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slot: RwLock::new(None),
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

    /// Fetches now; on failure serves the stale value if there is one.
    pub async fn refresh<F, Fut>(&self, fetch: F) -> Result<Arc<T>, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        match fetch().await {
            Ok(value) => {
                let value = Arc::new(value);
                let mut slot = self
                    .slot
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                *slot = Some((value.clone(), Instant::now()));
                Ok(value)
            }
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
    use super::*;

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

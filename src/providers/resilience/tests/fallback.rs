//! Fallback values served while the provider is unavailable.

use super::*;

#[tokio::test(start_paused = true)]
async fn fallback_is_served_while_the_breaker_is_open() {
    let provider = opened().await;
    let calls = AtomicU32::new(0);
    let mut cause = None;
    let jwks = provider
        .call_with_fallback(
            Operation::read("jwks.fetch"),
            |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok("fresh") }
            },
            |error| {
                cause = Some(error.clone());
                Some("cached")
            },
        )
        .await;
    assert_eq!(jwks, Ok("cached"));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(matches!(cause, Some(ProviderError::CircuitOpen { .. })));
}

#[tokio::test(start_paused = true)]
async fn fallback_is_served_once_retries_are_exhausted() {
    let provider = provider(config());
    let result = provider
        .call_with_fallback(
            READ,
            |_| async { Err::<&str, _>(transient()) },
            |_| Some("stale"),
        )
        .await;
    assert_eq!(result, Ok("stale"));
}

#[tokio::test(start_paused = true)]
async fn fallback_is_not_served_for_a_permanent_rejection() {
    let provider = provider(config());
    let mut asked = false;
    let result = provider
        .call_with_fallback(
            READ,
            |_| async { Err::<&str, _>(declined()) },
            |_| {
                asked = true;
                Some("stale")
            },
        )
        .await;
    assert_eq!(result, Err(declined()));
    assert!(!asked);
    let none = provider
        .call_with_fallback(READ, |_| async { Err::<&str, _>(transient()) }, |_| None)
        .await;
    assert_eq!(none, Err(transient()), "no substitute: the error stands");
}

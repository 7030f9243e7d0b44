//! Bulkhead and outbound rate limit.

use super::*;

#[tokio::test(start_paused = true)]
async fn bulkhead_rejects_calls_beyond_the_cap() {
    let provider = provider(PolicyConfig {
        max_concurrent: 2,
        ..config()
    });
    let running = Parked::start(&provider, 2).await;
    let (result, calls, _) = scripted(&provider, READ, &[Ok("unreached")]).await;
    assert_eq!((result, calls), (Err(ProviderError::BulkheadFull), 0));
    assert_eq!(running.release().await, [Ok("ok"), Ok("ok")]);
    assert_eq!(scripted(&provider, READ, &[Ok("ok")]).await.0, Ok("ok"));
    assert_eq!(
        provider.health().failure_rate,
        0.0,
        "a rejection is not a provider failure"
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limiter_delays_calls_beyond_the_burst() {
    let provider = provider(PolicyConfig {
        rate_limit_per_sec: 10,
        rate_limit_burst: 2,
        ..config()
    });
    let mut elapsed = Vec::new();
    for _ in 0..4 {
        let (result, _, took) = scripted(&provider, READ, &[Ok("ok")]).await;
        assert_eq!(result, Ok("ok"));
        elapsed.push(took);
    }
    assert_eq!(
        elapsed,
        [Duration::ZERO, Duration::ZERO, 100 * MS, 100 * MS]
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limiter_rejects_when_the_wait_would_cross_the_deadline() {
    let provider = provider(PolicyConfig {
        rate_limit_per_sec: 1,
        rate_limit_burst: 1,
        deadline: 500 * MS,
        attempt_timeout: 500 * MS,
        ..config()
    });
    assert_eq!(scripted(&provider, READ, &[Ok("ok")]).await.0, Ok("ok"));
    let (result, calls, elapsed) = scripted(&provider, READ, &[Ok("unreached")]).await;
    assert_eq!(
        result,
        Err(ProviderError::RateLimitExceeded {
            retry_after: Duration::from_secs(1)
        })
    );
    assert_eq!((calls, elapsed), (0, Duration::ZERO));
}

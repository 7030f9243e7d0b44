//! Circuit breaker: opening, failing fast, half-open trials.

use super::*;

#[tokio::test(start_paused = true)]
async fn breaker_opens_on_failure_rate_once_minimum_calls_are_seen() {
    let provider = provider(config());
    fail_calls(&provider, 9).await;
    assert_eq!(
        provider.health().state,
        BreakerState::Closed,
        "9 calls < minimum of 10"
    );
    fail_calls(&provider, 1).await;
    let health = provider.health();
    assert_eq!(
        (health.state, health.failure_rate),
        (BreakerState::Open, 1.0)
    );
    assert!(health.last_failure_at.is_some());
}

#[tokio::test(start_paused = true)]
async fn breaker_stays_closed_below_the_threshold() {
    let provider = provider(config());
    for _ in 0..6 {
        assert_eq!(scripted(&provider, READ, &[Ok("ok")]).await.0, Ok("ok"));
    }
    fail_calls(&provider, 5).await;
    // 5 of 11 failed: 45 % < 50 %.
    assert_eq!(provider.health().state, BreakerState::Closed);
    fail_calls(&provider, 1).await;
    assert_eq!(
        provider.health().state,
        BreakerState::Open,
        "6 of 12 = 50 %"
    );
}

#[tokio::test(start_paused = true)]
async fn open_breaker_fails_fast_without_calling_the_provider() {
    let provider = opened().await;
    let (result, calls, elapsed) = scripted(&provider, READ, &[Ok("unreached")]).await;
    assert_eq!(
        result,
        Err(ProviderError::CircuitOpen {
            retry_after: Duration::from_secs(30)
        })
    );
    assert_eq!((calls, elapsed), (0, Duration::ZERO));
    advance(Duration::from_secs(10)).await;
    let (result, _, _) = scripted(&provider, READ, &[Ok("unreached")]).await;
    assert_eq!(
        result.unwrap_err().retry_hint(),
        Some(Duration::from_secs(20))
    );
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_only_the_configured_trial_calls() {
    let provider = opened().await;
    advance(Duration::from_secs(30)).await;
    assert_eq!(provider.health().state, BreakerState::HalfOpen);

    let trials = Parked::start(&provider, 3).await;

    let (result, calls, _) = scripted(&provider, READ, &[Ok("unreached")]).await;
    assert!(
        matches!(result, Err(ProviderError::CircuitOpen { .. })),
        "{result:?}"
    );
    assert_eq!(calls, 0, "a fourth trial is not admitted");

    assert_eq!(trials.release().await, [Ok("ok"), Ok("ok"), Ok("ok")]);
    assert_eq!(provider.health().state, BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn successful_trials_close_the_breaker() {
    let provider = opened().await;
    advance(Duration::from_secs(30)).await;
    for _ in 0..2 {
        assert_eq!(scripted(&provider, READ, &[Ok("ok")]).await.0, Ok("ok"));
        assert_eq!(provider.health().state, BreakerState::HalfOpen);
    }
    assert_eq!(scripted(&provider, READ, &[Ok("ok")]).await.0, Ok("ok"));
    let health = provider.health();
    assert_eq!(
        (health.state, health.failure_rate),
        (BreakerState::Closed, 0.0)
    );
}

#[tokio::test(start_paused = true)]
async fn failed_trial_reopens_the_breaker() {
    let provider = opened().await;
    advance(Duration::from_secs(30)).await;
    assert_eq!(scripted(&provider, READ, &[Ok("ok")]).await.0, Ok("ok"));
    fail_calls(&provider, 1).await;
    assert_eq!(provider.health().state, BreakerState::Open);
    let (result, calls, _) = scripted(&provider, READ, &[Ok("unreached")]).await;
    assert_eq!(
        (result, calls),
        (
            Err(ProviderError::CircuitOpen {
                retry_after: Duration::from_secs(30)
            }),
            0
        )
    );
}

#[tokio::test(start_paused = true)]
async fn cancelled_trial_hands_its_slot_back() {
    let provider = provider(PolicyConfig {
        breaker_half_open_calls: 1,
        ..config()
    });
    fail_calls(&provider, 10).await;
    advance(Duration::from_secs(30)).await;
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let hung = tokio::spawn({
        let provider = provider.clone();
        async move {
            provider
                .call(READ, move |_| {
                    started_tx.send(()).expect("test alive");
                    std::future::pending::<Outcome>()
                })
                .await
        }
    });
    started.recv().await.expect("trial started");
    assert!(
        scripted(&provider, READ, &[Ok("unreached")])
            .await
            .0
            .is_err(),
        "slot taken"
    );
    hung.abort();
    assert!(hung.await.expect_err("aborted").is_cancelled());
    assert_eq!(
        scripted(&provider, READ, &[Ok("ok")]).await.0,
        Ok("ok"),
        "slot handed back"
    );
    assert_eq!(provider.health().state, BreakerState::Closed);
}

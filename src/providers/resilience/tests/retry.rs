//! Retry: backoff, Retry-After, Stripe-Should-Retry, safety, budget, deadline.

use super::*;

#[tokio::test(start_paused = true)]
async fn retries_with_exponential_backoff() {
    let provider = provider(config());
    let (result, calls, elapsed) = scripted(
        &provider,
        READ,
        &[Err(transient()), Err(transient()), Ok("cus_1")],
    )
    .await;
    assert_eq!(result, Ok("cus_1"));
    assert_eq!(calls, 3);
    assert_eq!(elapsed, 300 * MS, "100 ms then 200 ms");
}

#[tokio::test(start_paused = true)]
async fn jittered_backoff_stays_below_the_ceiling_and_is_reproducible() {
    let script = [Err(transient()), Err(transient()), Ok("cus_1")];
    let mut elapsed = Vec::new();
    for seed in [9, 9, 10] {
        let provider = ResilientProvider::with_jitter("stripe", config(), Jitter::seeded(seed))
            .expect("valid");
        let (result, calls, took) = scripted(&provider, READ, &script).await;
        assert_eq!((result, calls), (Ok("cus_1"), 3));
        assert!(took <= 300 * MS, "{took:?}");
        elapsed.push(took);
    }
    assert_eq!(elapsed[0], elapsed[1], "same seed, same delays");
    assert_ne!(elapsed[0], elapsed[2], "another seed, other delays");
}

#[tokio::test(start_paused = true)]
async fn honours_retry_after_in_seconds() {
    let provider = provider(config());
    let limited = response(429, &[("retry-after", HeaderValue::from_static("3"))]);
    let (result, calls, elapsed) = scripted(&provider, READ, &[Err(limited), Ok("ok")]).await;
    assert_eq!((result, calls), (Ok("ok"), 2));
    assert_eq!(
        elapsed,
        Duration::from_secs(3),
        "Retry-After replaces the 100 ms backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn honours_retry_after_as_an_http_date() {
    let provider = provider(config());
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
    let limited = response(
        429,
        &[("retry-after", HeaderValue::from_str(&at).expect("header"))],
    );
    let (result, calls, elapsed) = scripted(&provider, READ, &[Err(limited), Ok("ok")]).await;
    assert_eq!((result, calls), (Ok("ok"), 2));
    // HTTP dates have whole-second resolution.
    assert!(
        elapsed > Duration::from_secs(4) && elapsed <= Duration::from_secs(5),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn stripe_should_retry_true_retries_a_conflict() {
    let provider = provider(config());
    let conflict = response(
        409,
        &[(STRIPE_SHOULD_RETRY, HeaderValue::from_static("true"))],
    );
    let (result, calls, _) = scripted(
        &provider,
        Operation::idempotent_write("payment_intents.confirm"),
        &[Err(conflict), Ok("pi_1")],
    )
    .await;
    assert_eq!((result, calls), (Ok("pi_1"), 2));
}

#[tokio::test(start_paused = true)]
async fn stripe_should_retry_false_stops_retries() {
    let provider = provider(config());
    let refused = response(
        503,
        &[(STRIPE_SHOULD_RETRY, HeaderValue::from_static("false"))],
    );
    let (result, calls, elapsed) =
        scripted(&provider, READ, &[Err(refused.clone()), Ok("unreached")]).await;
    assert_eq!((result, calls, elapsed), (Err(refused), 1, Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried_nor_counted_as_failures() {
    let provider = provider(config());
    let (result, calls, _) = scripted(&provider, READ, &[Err(declined()), Ok("unreached")]).await;
    assert_eq!((result, calls), (Err(declined()), 1));
    let health = provider.health();
    assert_eq!(
        (health.state, health.failure_rate, health.last_failure_at),
        (BreakerState::Closed, 0.0, None)
    );
}

#[tokio::test(start_paused = true)]
async fn unsafe_writes_are_never_retried() {
    let provider = provider(config());
    let op = Operation::unsafe_write("oauth.token_exchange");
    let (result, calls, _) = scripted(
        &provider,
        op,
        &[Err(ProviderError::Timeout), Ok("unreached")],
    )
    .await;
    assert_eq!((result, calls), (Err(ProviderError::Timeout), 1));
}

#[tokio::test(start_paused = true)]
async fn idempotent_writes_are_retried_with_increasing_attempt_numbers() {
    let provider = provider(config());
    let mut seen = Vec::new();
    let result = provider
        .call(Operation::idempotent_write("refunds.create"), |attempt| {
            // A real adapter sends the same Idempotency-Key on each attempt.
            seen.push(attempt.number());
            let last = attempt.number() == 3;
            async move { if last { Ok("re_1") } else { Err(transient()) } }
        })
        .await;
    assert_eq!(result, Ok("re_1"));
    assert_eq!(seen, [1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn retry_budget_caps_retries_across_calls() {
    // One retry per second, none earned by calls.
    let budget = PolicyConfig {
        retry_budget_ttl: Duration::from_secs(1),
        retry_budget_min_per_sec: 1,
        retry_budget_ratio: 0.0,
        max_attempts: 3,
        ..config()
    };
    let provider = provider(budget);
    let failing = [Err(transient()), Err(transient()), Err(transient())];
    let (_, first, _) = scripted(&provider, READ, &failing).await;
    let (_, second, _) = scripted(&provider, READ, &failing).await;
    assert_eq!(
        (first, second),
        (2, 1),
        "the single retry is spent by the first call"
    );
    advance(Duration::from_secs(2)).await;
    let (_, later, _) = scripted(&provider, READ, &failing).await;
    assert_eq!(later, 2, "the budget refills once the window has passed");
}

#[tokio::test(start_paused = true)]
async fn backoff_never_sleeps_past_the_deadline() {
    let provider = provider(PolicyConfig {
        deadline: Duration::from_secs(1),
        attempt_timeout: Duration::from_secs(1),
        backoff_base: 400 * MS,
        max_attempts: 5,
        ..config()
    });
    let script = [Err(transient()), Err(transient()), Ok("unreached")];
    let (result, calls, elapsed) = scripted(&provider, READ, &script).await;
    // 400 ms, then 800 ms would end at 1.2 s: give up with the last error.
    assert_eq!((result, calls, elapsed), (Err(transient()), 2, 400 * MS));
}

#[tokio::test(start_paused = true)]
async fn hung_attempts_time_out_and_the_deadline_cuts_the_last_one() {
    let provider = provider(PolicyConfig {
        deadline: Duration::from_secs(1),
        attempt_timeout: 800 * MS,
        ..config()
    });
    let mut limits = Vec::new();
    let started = Instant::now();
    let result: Result<(), _> = provider
        .call(READ, |attempt| {
            limits.push(attempt.timeout());
            std::future::pending()
        })
        .await;
    assert_eq!(result, Err(ProviderError::DeadlineExceeded));
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(
        limits,
        [800 * MS, 100 * MS],
        "the second attempt gets what is left"
    );
    // Only the real timeout counts against the provider.
    assert_eq!(provider.health().failure_rate, 1.0);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_a_floor_under_the_backoff() {
    let provider = provider(PolicyConfig {
        backoff_base: 500 * MS,
        ..config()
    });
    let soon = ProviderError::RateLimited {
        retry_after: Some(10 * MS),
    };
    let (result, calls, elapsed) = scripted(&provider, READ, &[Err(soon), Ok("ok")]).await;
    assert_eq!((result, calls), (Ok("ok"), 2));
    assert_eq!(
        elapsed,
        500 * MS,
        "the longer of Retry-After and the backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_deadline_fails_at_once_with_the_hint() {
    let provider = provider(PolicyConfig {
        deadline: Duration::from_secs(2),
        attempt_timeout: Duration::from_secs(1),
        ..config()
    });
    let later = ProviderError::RateLimited {
        retry_after: Some(Duration::from_secs(30)),
    };
    let (result, calls, elapsed) =
        scripted(&provider, READ, &[Err(later.clone()), Ok("unreached")]).await;
    assert_eq!((result, calls, elapsed), (Err(later), 1, Duration::ZERO));
}

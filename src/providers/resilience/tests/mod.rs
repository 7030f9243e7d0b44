//! Behaviour of the whole stack, on tokio's paused clock: time only moves
//! when every task is waiting on a timer, so timings are exact.

mod breaker;
mod fallback;
mod health;
mod limits;
mod observed;
mod retry;
mod spans;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use ::http::{HeaderMap, HeaderValue, StatusCode};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Instant, advance};

use super::http::{STRIPE_SHOULD_RETRY, classify_response};
use super::*;

const MS: Duration = Duration::from_millis(1);
const READ: Operation = Operation::read("customers.retrieve");

type Outcome = Result<&'static str, ProviderError>;

/// Production defaults with the rate limiter off, so each test exercises
/// only the policy it is about.
fn config() -> PolicyConfig {
    PolicyConfig {
        rate_limit_per_sec: 0,
        ..PolicyConfig::default()
    }
}

fn provider(config: PolicyConfig) -> ResilientProvider {
    ResilientProvider::with_jitter("stripe", config, Jitter::off()).expect("valid config")
}

fn transient() -> ProviderError {
    ProviderError::Transient {
        message: "HTTP 503 Service Unavailable".into(),
    }
}

fn declined() -> ProviderError {
    ProviderError::Permanent {
        status: Some(402),
        code: Some("card_declined".into()),
        message: "Your card was declined.".into(),
    }
}

/// Runs one call whose attempts return `script` in order; reports the
/// result, how many attempts were made and how long the call took.
async fn scripted(
    provider: &ResilientProvider,
    op: Operation,
    script: &[Outcome],
) -> (Outcome, u32, Duration) {
    let calls = AtomicU32::new(0);
    let started = Instant::now();
    let result = provider
        .call(op, |attempt| {
            calls.fetch_add(1, Ordering::SeqCst);
            let outcome = script[attempt.number() as usize - 1].clone();
            async move { outcome }
        })
        .await;
    (result, calls.load(Ordering::SeqCst), started.elapsed())
}

/// Makes `count` single-attempt calls that all fail.
async fn fail_calls(provider: &ResilientProvider, count: usize) {
    for _ in 0..count {
        let (result, _, _) = scripted(
            provider,
            Operation::unsafe_write("charges.create"),
            &[Err(transient())],
        )
        .await;
        assert!(result.is_err());
    }
}

/// A provider whose breaker was just opened by ten failed calls.
async fn opened() -> ResilientProvider {
    let provider = provider(config());
    fail_calls(&provider, 10).await;
    assert_eq!(provider.health().state, BreakerState::Open);
    provider
}

fn response(status: u16, headers: &[(&'static str, HeaderValue)]) -> ProviderError {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, value.clone());
    }
    classify_response(StatusCode::from_u16(status).expect("status"), &map, "").expect("an error")
}

/// Calls parked inside the provider until released, so a test can observe
/// the stack while they are in flight.
struct Parked {
    gate: Arc<Semaphore>,
    calls: Vec<tokio::task::JoinHandle<Outcome>>,
}

impl Parked {
    /// Starts `count` calls and returns once every one is inside the
    /// provider closure.
    async fn start(provider: &ResilientProvider, count: usize) -> Self {
        let gate = Arc::new(Semaphore::new(0));
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let calls = (0..count)
            .map(|_| {
                let (provider, gate, started_tx) =
                    (provider.clone(), gate.clone(), started_tx.clone());
                tokio::spawn(async move {
                    provider
                        .call(READ, move |_| {
                            let (gate, started_tx) = (gate.clone(), started_tx.clone());
                            async move {
                                started_tx.send(()).expect("test alive");
                                let _pass = gate.acquire().await.expect("gate open");
                                Ok("ok")
                            }
                        })
                        .await
                })
            })
            .collect();
        for _ in 0..count {
            started.recv().await.expect("call started");
        }
        Self { gate, calls }
    }

    /// Lets every parked call finish and returns their results.
    async fn release(self) -> Vec<Outcome> {
        self.gate.add_permits(self.calls.len());
        let mut results = Vec::new();
        for call in self.calls {
            results.push(call.await.expect("no panic"));
        }
        results
    }
}

//! Metrics, captured by a recorder local to the test thread.

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

use super::*;

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime")
}

/// Metric values recorded since the previous reading. The debugging
/// recorder hands out deltas: each reading resets what it returns.
struct Reading(Vec<Sample>);

/// Metric name, labels and value.
type Sample = (String, Vec<(String, String)>, f64);

fn read(snapshotter: &Snapshotter) -> Reading {
    let values = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let labels = key
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            let value = match value {
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(g) => g.0,
                DebugValue::Histogram(samples) => samples.len() as f64,
            };
            (key.key().name().to_owned(), labels, value)
        });
    Reading(values.collect())
}

impl Reading {
    /// Sum of the values of `name` whose labels include all of `labels`.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let matches = |have: &[(String, String)]| {
            labels
                .iter()
                .all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v))
        };
        self.0
            .iter()
            .filter(|(n, l, _)| n == name && matches(l))
            .map(|(.., v)| v)
            .sum()
    }
}

#[test]
fn calls_attempts_retries_and_breaker_are_recorded() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    ::metrics::with_local_recorder(&recorder, || {
        paused_runtime().block_on(async {
            let provider = provider(config());
            let op = [("provider", "stripe"), ("operation", "customers.retrieve")];
            let script = [
                Err(ProviderError::RateLimited { retry_after: None }),
                Ok("ok"),
            ];
            let stripe = [("provider", "stripe")];
            let reading = read(&snapshotter);
            assert_eq!(reading.get("provider_breaker_state", &stripe), 0.0);
            assert_eq!(
                reading.0.len(),
                1,
                "only the breaker gauge exists before any call"
            );

            let (result, _, _) = scripted(&provider, READ, &script).await;
            assert_eq!(result, Ok("ok"));
            let reading = read(&snapshotter);
            let success = [op[0], op[1], ("outcome", "success")];
            assert_eq!(reading.get("provider_calls_total", &success), 1.0);
            assert_eq!(
                reading.get("provider_call_duration_seconds", &success),
                1.0,
                "one sample"
            );
            assert_eq!(reading.get("provider_attempts_total", &op), 2.0);
            assert_eq!(
                reading.get("provider_attempts_total", &[("result", "rate_limited")]),
                1.0
            );
            assert_eq!(reading.get("provider_retries_total", &op), 1.0);
            assert_eq!(
                reading.get("provider_rate_limited_total", &[("reason", "upstream")]),
                1.0
            );

            // With the earlier success, 9 failures make 90 % of 10 calls.
            fail_calls(&provider, 9).await;
            let reading = read(&snapshotter);
            assert_eq!(
                reading.get("provider_calls_total", &[("outcome", "failure")]),
                9.0
            );
            let opened = [("provider", "stripe"), ("from", "closed"), ("to", "open")];
            assert_eq!(
                reading.get("provider_breaker_transitions_total", &opened),
                1.0
            );
            assert_eq!(reading.get("provider_breaker_state", &stripe), 2.0);

            let (result, _, _) = scripted(&provider, READ, &[Ok("unreached")]).await;
            assert!(result.is_err());
            let served = provider
                .call_with_fallback(READ, |_| async { Ok("fresh") }, |_| Some("cached"))
                .await;
            assert_eq!(served, Ok("cached"));
            let reading = read(&snapshotter);
            assert_eq!(
                reading.get("provider_calls_total", &[("outcome", "rejected")]),
                1.0
            );
            assert_eq!(
                reading.get("provider_calls_total", &[("outcome", "fallback")]),
                1.0
            );
        });
    });
}

#[test]
fn bulkhead_and_local_rate_limit_rejections_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    ::metrics::with_local_recorder(&recorder, || {
        paused_runtime().block_on(async {
            let config = PolicyConfig {
                rate_limit_per_sec: 1,
                rate_limit_burst: 1,
                max_concurrent: 1,
                ..config()
            };
            let provider = provider(config);
            let gate = Semaphore::new(0);
            let (started_tx, mut started) = mpsc::unbounded_channel();
            let held = provider.call(READ, |_| {
                started_tx.send(()).expect("test alive");
                let gate = &gate;
                async move { gate.acquire().await.map(|_| "ok").map_err(|_| transient()) }
            });
            let probe = async {
                started.recv().await.expect("call started");
                let (result, _, _) = scripted(&provider, READ, &[Ok("unreached")]).await;
                assert_eq!(result, Err(ProviderError::BulkheadFull));
                gate.add_permits(1);
            };
            let (held, ()) = tokio::join!(held, probe);
            assert_eq!(held, Ok("ok"));
            // The next slot is a second away; the call waits for it.
            let (result, _, elapsed) = scripted(&provider, READ, &[Ok("ok")]).await;
            assert_eq!((result, elapsed), (Ok("ok"), Duration::from_secs(1)));
        });
    });
    let reading = read(&snapshotter);
    assert_eq!(
        reading.get(
            "provider_bulkhead_rejected_total",
            &[("provider", "stripe")]
        ),
        1.0
    );
    assert_eq!(
        reading.get("provider_rate_limited_total", &[("reason", "delayed")]),
        1.0
    );
    assert_eq!(
        reading.get("provider_rate_limited_total", &[("reason", "rejected")]),
        0.0
    );
}

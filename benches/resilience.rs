//! Overhead of the provider policy stack on the happy path: a provider call
//! that succeeds at once, through the full stack versus called directly.
//!
//! Each sample runs its iterations inside one `block_on`, so runtime entry
//! is not part of the figure, and gets a fresh provider, so the rate
//! limiter (raised to a million calls per second with an equal burst) runs
//! its code on every call but never makes one wait.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};
use switchboard::providers::resilience::{
    Attempt, Operation, PolicyConfig, ProviderError, ResilientProvider,
};
use tokio::runtime::Runtime;

const OP: Operation = Operation::read("customers.retrieve");

async fn provider_call(_: Attempt) -> Result<u64, ProviderError> {
    Ok(black_box(42))
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

fn provider() -> ResilientProvider {
    let config = PolicyConfig {
        rate_limit_per_sec: 1_000_000,
        rate_limit_burst: 1_000_000,
        ..PolicyConfig::default()
    };
    ResilientProvider::new("stripe", config).expect("valid config")
}

fn run_stack(runtime: &Runtime, iters: u64) -> Duration {
    let provider = provider();
    runtime.block_on(async {
        let started = Instant::now();
        for _ in 0..iters {
            black_box(provider.call(OP, provider_call).await.ok());
        }
        started.elapsed()
    })
}

/// Stands in for the Prometheus exporter: the same sharded handle registry,
/// without rendering, so each metric update costs a realistic lookup.
struct RegistryRecorder(Registry<Key, AtomicStorage>);

impl Recorder for RegistryRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.0
            .get_or_create_counter(key, |c| Counter::from_arc(Arc::clone(c)))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.0
            .get_or_create_gauge(key, |g| Gauge::from_arc(Arc::clone(g)))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.0
            .get_or_create_histogram(key, |h| Histogram::from_arc(Arc::clone(h)))
    }
}

fn happy_path(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("provider_call");

    group.bench_function("direct", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                for number in 0..iters {
                    let attempt = black_box(number as u32);
                    black_box(provider_call_direct(attempt).await.ok());
                }
                started.elapsed()
            })
        })
    });

    group.bench_function("full_stack_no_recorder", |b| {
        b.iter_custom(|iters| run_stack(&runtime, iters))
    });

    let recorder = RegistryRecorder(Registry::atomic());
    metrics::with_local_recorder(&recorder, || {
        group.bench_function("full_stack_registry_recorder", |b| {
            b.iter_custom(|iters| run_stack(&runtime, iters))
        });
    });
    group.finish();
}

// The closure called without the stack. `Attempt` cannot be built outside
// the stack, so the direct path passes the attempt number instead.
async fn provider_call_direct(_: u32) -> Result<u64, ProviderError> {
    Ok(black_box(42))
}

criterion_group!(benches, happy_path);
criterion_main!(benches);

//! The span of one provider call, carrying its policy outcome: how many attempts it took, how
//! long the outbound rate limit held it back, the breaker's state when it ended, and the outcome.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tracing::Span;
use tracing::field::Empty;

use super::error::ProviderError;
use super::health::BreakerState;
use super::operation::Operation;

/// A call's span and what its policies did, filled in as the call runs.
#[derive(Debug)]
pub(super) struct CallTrace {
    span: Span,
    attempts: AtomicU32,
    waited_micros: AtomicU64,
}

impl CallTrace {
    /// Opens the span of a call to `provider` (a child of the caller's current span).
    pub(super) fn new(provider: &str, op: Operation) -> Self {
        let name = format!("{provider} {}", op.name);
        let span = tracing::info_span!(
            "provider.call",
            otel.name = %name,
            otel.kind = "client",
            otel.status_code = Empty,
            provider,
            operation = op.name,
            attempts = Empty,
            rate_limit_wait_ms = Empty,
            breaker_state = Empty,
            outcome = Empty,
        );
        Self {
            span,
            attempts: AtomicU32::new(0),
            waited_micros: AtomicU64::new(0),
        }
    }

    /// The span, to run the call in.
    pub(super) fn span(&self) -> &Span {
        &self.span
    }

    /// Attempt `number` is about to pass the breaker.
    pub(super) fn attempt(&self, number: u32) {
        self.attempts.fetch_max(number, Ordering::Relaxed);
    }

    /// The outbound rate limit held an attempt back for `wait`.
    pub(super) fn waited(&self, wait: Duration) {
        let micros = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.waited_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Records the policy outcome on the span.
    pub(super) fn finish(&self, outcome: &'static str, breaker: BreakerState) {
        let waited = self.waited_micros.load(Ordering::Relaxed) as f64 / 1000.0;
        self.span
            .record("attempts", self.attempts.load(Ordering::Relaxed))
            .record("rate_limit_wait_ms", waited)
            .record("breaker_state", breaker.as_str())
            .record("outcome", outcome);
        if outcome != "success" && outcome != "fallback" {
            self.span.record("otel.status_code", "ERROR");
        }
    }
}

/// The outcome name of a call's result, as on the span.
pub(super) fn outcome_name<T>(result: &Result<T, ProviderError>) -> &'static str {
    match result {
        Ok(_) => "success",
        Err(error) => error.kind(),
    }
}

//! The policy stack of one provider, and the seam every outbound call goes
//! through.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, sleep, timeout};
use tracing::Instrument;

use super::breaker::{CallResult, CircuitBreaker};
use super::bulkhead::Bulkhead;
use super::config::{ConfigError, PolicyConfig};
use super::error::ProviderError;
use super::health::ProviderHealth;
use super::metrics::{CallLabels, Outcome, RateLimitReason};
use super::operation::{Attempt, Operation};
use super::rate_limit::RateLimiter;
use super::retry::{Jitter, RetryPolicy, Stop};
use super::trace::{CallTrace, outcome_name};

/// The resilience policies of one provider (`stripe`, `sandbox`, an
/// identity provider, ...), applied to every call made to it.
///
/// Policies run in this order, outermost first: overall deadline → retry →
/// circuit breaker → bulkhead → outbound rate limit → attempt timeout. The
/// value is cheap to clone; clones share the breaker, bulkhead, limiter and
/// retry budget.
#[derive(Debug, Clone)]
pub struct ResilientProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: Arc<str>,
    config: PolicyConfig,
    retry: RetryPolicy,
    breaker: CircuitBreaker,
    bulkhead: Bulkhead,
    limiter: Option<RateLimiter>,
}

impl ResilientProvider {
    /// Builds the stack for provider `name` after validating `config`.
    pub fn new(name: impl Into<String>, config: PolicyConfig) -> Result<Self, ConfigError> {
        Self::with_jitter(name, config, Jitter::full())
    }

    /// Like [`ResilientProvider::new`] with a chosen backoff jitter source,
    /// e.g. [`Jitter::seeded`] for reproducible delays.
    pub fn with_jitter(
        name: impl Into<String>,
        config: PolicyConfig,
        jitter: Jitter,
    ) -> Result<Self, ConfigError> {
        let name: Arc<str> = Arc::from(name.into());
        if name.trim().is_empty() {
            return Err(ConfigError {
                field: "name",
                reason: "must not be empty".into(),
            });
        }
        config.validate()?;
        let inner = Inner {
            retry: RetryPolicy::new(&config, jitter),
            breaker: CircuitBreaker::new(name.clone(), &config),
            bulkhead: Bulkhead::new(config.max_concurrent),
            limiter: RateLimiter::new(config.rate_limit_per_sec, config.rate_limit_burst),
            name,
            config,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The provider name, as used in metric labels and health reports.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The validated configuration the stack was built with.
    pub fn config(&self) -> &PolicyConfig {
        &self.inner.config
    }

    /// Runs `f` under the policy stack. `f` makes one attempt per invocation
    /// and is told which attempt it is; it must return errors already
    /// classified (see [`super::http`]).
    pub async fn call<T, F, Fut>(&self, op: Operation, f: F) -> Result<T, ProviderError>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        self.call_with_fallback(op, f, |_| None).await
    }

    /// Like [`ResilientProvider::call`], but when the provider is
    /// unavailable (any failure but a permanent rejection, an open breaker
    /// included) asks `fallback` for a substitute, such as a cached JWKS
    /// served stale. The original error is returned if `fallback` has none.
    pub async fn call_with_fallback<T, F, Fut>(
        &self,
        op: Operation,
        f: F,
        fallback: impl FnOnce(&ProviderError) -> Option<T>,
    ) -> Result<T, ProviderError>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let started = Instant::now();
        let labels = self.labels(op);
        let trace = CallTrace::new(&self.inner.name, op);
        let result = self
            .run(op, f, started, &labels, &trace)
            .instrument(trace.span().clone())
            .await;
        let substitute = match &result {
            Err(error) if error.is_unavailable() => fallback(error),
            _ => None,
        };
        let Some(value) = substitute else {
            self.finish(&trace, outcome_name(&result));
            return record(&labels, started, result);
        };
        self.finish(&trace, "fallback");
        tracing::debug!(provider = %self.inner.name, operation = op.name, "served fallback");
        labels.call(Outcome::Fallback, started.elapsed());
        Ok(value)
    }

    /// Current health, for `providerHealth` and readiness.
    pub fn health(&self) -> ProviderHealth {
        let (state, failure_rate, last_failure_at) = self.inner.breaker.snapshot();
        ProviderHealth {
            name: self.inner.name.to_string(),
            state,
            failure_rate,
            last_failure_at,
        }
    }

    /// Records the call's policy outcome on its span.
    fn finish(&self, trace: &CallTrace, outcome: &'static str) {
        trace.finish(outcome, self.inner.breaker.snapshot().0);
    }

    fn labels(&self, op: Operation) -> CallLabels {
        CallLabels::new(self.inner.name.clone(), op.name)
    }

    /// Deadline and retry: attempts until success, a final error, or no
    /// time or budget left for another attempt.
    async fn run<T, F, Fut>(
        &self,
        op: Operation,
        mut f: F,
        started: Instant,
        labels: &CallLabels,
        trace: &CallTrace,
    ) -> Result<T, ProviderError>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let deadline = started + self.inner.config.deadline;
        self.inner.retry.record_call();
        let mut number = 1;
        loop {
            trace.attempt(number);
            let error = match self.attempt(&mut f, number, deadline, labels, trace).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self
                .inner
                .retry
                .next_delay(op.safety, &error, number, remaining)
            {
                Ok(delay) => {
                    tracing::debug!(
                        provider = %self.inner.name, operation = op.name, attempt = number,
                        error = %error, delay_ms = delay.as_millis(), "retrying provider call"
                    );
                    labels.retry();
                    sleep(delay).await;
                    number += 1;
                }
                Err(stop) => {
                    if let (Stop::DeadlineTooClose, Some(asked)) = (stop, error.retry_hint()) {
                        tracing::warn!(
                            provider = %self.inner.name, operation = op.name,
                            asked_ms = asked.as_millis(), left_ms = remaining.as_millis(),
                            "provider asked to wait longer than the call has left; failing now"
                        );
                    }
                    tracing::debug!(
                        provider = %self.inner.name, operation = op.name, attempt = number,
                        error = %error, reason = stop.as_str(), "provider call failed"
                    );
                    return Err(error);
                }
            }
        }
    }

    /// Breaker, bulkhead, rate limit and timeout around one attempt.
    async fn attempt<T, F, Fut>(
        &self,
        f: &mut F,
        number: u32,
        deadline: Instant,
        labels: &CallLabels,
        trace: &CallTrace,
    ) -> Result<T, ProviderError>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let inner = &*self.inner;
        let permit = inner
            .breaker
            .try_acquire()
            .map_err(|retry_after| ProviderError::CircuitOpen { retry_after })?;
        // Guards are released on every early return; an unsettled breaker
        // permit counts as neither success nor failure.
        let Some(_slot) = inner.bulkhead.try_enter() else {
            labels.bulkhead_rejected();
            return Err(ProviderError::BulkheadFull);
        };
        self.pace(deadline, labels, trace).await?;

        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ProviderError::DeadlineExceeded);
        }
        let limit = inner.config.attempt_timeout.min(remaining);
        let result = match timeout(limit, f(Attempt::new(number, limit))).await {
            Ok(result) => result,
            // Cut short by the overall deadline rather than the attempt
            // timeout: the provider did not get a fair chance.
            Err(_) if limit < inner.config.attempt_timeout => Err(ProviderError::DeadlineExceeded),
            Err(_) => Err(ProviderError::Timeout),
        };
        labels.attempt(
            result
                .as_ref()
                .map_or_else(ProviderError::kind, |_| "success"),
        );
        if let Err(ProviderError::RateLimited { .. }) = &result {
            labels.rate_limited(RateLimitReason::Upstream);
        }
        permit.settle(breaker_result(&result));
        result
    }

    /// Waits for an outbound rate-limit slot, unless that would cross the
    /// deadline.
    async fn pace(
        &self,
        deadline: Instant,
        labels: &CallLabels,
        trace: &CallTrace,
    ) -> Result<(), ProviderError> {
        let Some(limiter) = &self.inner.limiter else {
            return Ok(());
        };
        let now = Instant::now();
        match limiter.reserve(now, deadline.saturating_duration_since(now)) {
            Ok(Duration::ZERO) => Ok(()),
            Ok(wait) => {
                labels.rate_limited(RateLimitReason::Delayed);
                trace.waited(wait);
                sleep(wait).await;
                Ok(())
            }
            Err(retry_after) => {
                labels.rate_limited(RateLimitReason::Rejected);
                Err(ProviderError::RateLimitExceeded { retry_after })
            }
        }
    }
}

/// How an attempt's result counts for the breaker.
fn breaker_result<T>(result: &Result<T, ProviderError>) -> CallResult {
    match result {
        Ok(_) => CallResult::Success,
        Err(error) if error.counts_as_failure() => CallResult::Failure,
        // The provider answered, correctly refusing this request.
        Err(ProviderError::Permanent { .. }) => CallResult::Success,
        Err(_) => CallResult::Ignored,
    }
}

fn outcome_of<T>(result: &Result<T, ProviderError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Success,
        Err(error) if error.is_rejection() => Outcome::Rejected,
        Err(_) => Outcome::Failure,
    }
}

/// Counts the call's final outcome and duration, passing the result on.
fn record<T>(
    labels: &CallLabels,
    started: Instant,
    result: Result<T, ProviderError>,
) -> Result<T, ProviderError> {
    labels.call(outcome_of(&result), started.elapsed());
    result
}

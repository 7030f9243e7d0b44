//! Metric names and the helpers that record them through the `metrics`
//! facade. Every series carries `provider`; per-call series also carry
//! `operation`.

use std::sync::Arc;
use std::time::Duration;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};

use super::health::BreakerState;

/// Calls by final outcome (`outcome` = success, failure, rejected, fallback).
pub const CALLS_TOTAL: &str = "provider_calls_total";
/// Attempts that reached the provider (`result` = success or error class).
pub const ATTEMPTS_TOTAL: &str = "provider_attempts_total";
/// Retries scheduled after a failed attempt.
pub const RETRIES_TOTAL: &str = "provider_retries_total";
/// Wall time of whole calls, retries included (`outcome` as for calls).
pub const CALL_DURATION_SECONDS: &str = "provider_call_duration_seconds";
/// Breaker state per provider: 0 closed, 1 half-open, 2 open.
pub const BREAKER_STATE: &str = "provider_breaker_state";
/// Breaker transitions per provider (`from`, `to`).
pub const BREAKER_TRANSITIONS_TOTAL: &str = "provider_breaker_transitions_total";
/// Calls refused because the bulkhead was full.
pub const BULKHEAD_REJECTED_TOTAL: &str = "provider_bulkhead_rejected_total";
/// Rate limiting (`reason` = delayed or rejected by the outbound limiter,
/// upstream for a 429 from the provider).
pub const RATE_LIMITED_TOTAL: &str = "provider_rate_limited_total";

/// Registers descriptions and units of every provider metric with the
/// installed recorder. Call once after installing the exporter.
pub fn describe() {
    describe_counter!(CALLS_TOTAL, Unit::Count, "Provider calls by final outcome.");
    describe_counter!(
        ATTEMPTS_TOTAL,
        Unit::Count,
        "Provider call attempts by result."
    );
    describe_counter!(
        RETRIES_TOTAL,
        Unit::Count,
        "Retries after a failed attempt."
    );
    describe_histogram!(
        CALL_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of provider calls, retries and waits included."
    );
    describe_gauge!(
        BREAKER_STATE,
        "Circuit breaker state: 0 closed, 1 half-open, 2 open."
    );
    describe_counter!(
        BREAKER_TRANSITIONS_TOTAL,
        Unit::Count,
        "Circuit breaker transitions."
    );
    describe_counter!(
        BULKHEAD_REJECTED_TOTAL,
        Unit::Count,
        "Calls refused by a full bulkhead."
    );
    describe_counter!(
        RATE_LIMITED_TOTAL,
        Unit::Count,
        "Calls delayed or refused by rate limits."
    );
}

/// Final outcome of a call, as counted in [`CALLS_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure,
    Rejected,
    Fallback,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Rejected => "rejected",
            Self::Fallback => "fallback",
        }
    }
}

/// Why a call was rate limited, as labelled in [`RATE_LIMITED_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateLimitReason {
    Delayed,
    Rejected,
    Upstream,
}

impl RateLimitReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Delayed => "delayed",
            Self::Rejected => "rejected",
            Self::Upstream => "upstream",
        }
    }
}

/// Label values of one call. The provider name is shared, so building the
/// labels costs a reference-count increment rather than a string copy.
#[derive(Debug, Clone)]
pub(crate) struct CallLabels {
    provider: Arc<str>,
    operation: &'static str,
}

impl CallLabels {
    pub(crate) fn new(provider: Arc<str>, operation: &'static str) -> Self {
        Self {
            provider,
            operation,
        }
    }

    pub(crate) fn call(&self, outcome: Outcome, elapsed: Duration) {
        let (provider, operation, outcome) =
            (self.provider.clone(), self.operation, outcome.as_str());
        counter!(CALLS_TOTAL, "provider" => provider.clone(), "operation" => operation, "outcome" => outcome)
            .increment(1);
        histogram!(CALL_DURATION_SECONDS, "provider" => provider, "operation" => operation, "outcome" => outcome)
            .record(elapsed.as_secs_f64());
    }

    pub(crate) fn attempt(&self, result: &'static str) {
        counter!(ATTEMPTS_TOTAL, "provider" => self.provider.clone(), "operation" => self.operation, "result" => result)
            .increment(1);
    }

    pub(crate) fn retry(&self) {
        counter!(RETRIES_TOTAL, "provider" => self.provider.clone(), "operation" => self.operation)
            .increment(1);
    }

    pub(crate) fn bulkhead_rejected(&self) {
        counter!(BULKHEAD_REJECTED_TOTAL, "provider" => self.provider.clone(), "operation" => self.operation)
            .increment(1);
    }

    pub(crate) fn rate_limited(&self, reason: RateLimitReason) {
        counter!(RATE_LIMITED_TOTAL, "provider" => self.provider.clone(), "operation" => self.operation, "reason" => reason.as_str())
            .increment(1);
    }
}

/// Sets the breaker state gauge of `provider`.
pub(crate) fn breaker_state(provider: &Arc<str>, state: BreakerState) {
    gauge!(BREAKER_STATE, "provider" => provider.clone()).set(state.gauge_value());
}

/// Counts a breaker transition and updates the state gauge.
pub(crate) fn breaker_transition(provider: &Arc<str>, from: BreakerState, to: BreakerState) {
    counter!(BREAKER_TRANSITIONS_TOTAL, "provider" => provider.clone(), "from" => from.as_str(), "to" => to.as_str())
        .increment(1);
    breaker_state(provider, to);
}

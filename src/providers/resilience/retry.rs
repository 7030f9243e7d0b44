//! Retry policy: exponential backoff with full jitter, a retry budget, and
//! `Retry-After` parsing.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tower::retry::budget::{Budget, TpsBudget};

use super::config::PolicyConfig;
use super::error::ProviderError;
use super::operation::Safety;

/// Source of randomness for backoff delays.
///
/// Full jitter (a delay drawn uniformly from zero to the ceiling) spreads
/// the retries of many callers that failed together, so they do not hit a
/// recovering provider in lockstep.
#[derive(Debug)]
pub struct Jitter(JitterSource);

#[derive(Debug)]
enum JitterSource {
    Thread,
    Seeded(Mutex<SmallRng>),
    Off,
}

impl Jitter {
    /// Full jitter from the thread-local generator (production).
    pub fn full() -> Self {
        Self(JitterSource::Thread)
    }

    /// Full jitter from a seeded generator: the same seed gives the same
    /// delays, for reproducible tests.
    pub fn seeded(seed: u64) -> Self {
        Self(JitterSource::Seeded(Mutex::new(SmallRng::seed_from_u64(
            seed,
        ))))
    }

    /// No jitter: every delay is its ceiling, for tests that assert exact
    /// timings.
    pub fn off() -> Self {
        Self(JitterSource::Off)
    }

    /// Draws a delay in `0..=ceiling`.
    pub fn sample(&self, ceiling: Duration) -> Duration {
        let max = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let nanos = match &self.0 {
            JitterSource::Thread => rand::rng().random_range(0..=max),
            JitterSource::Seeded(rng) => {
                // A poisoned lock only means another thread panicked while
                // drawing; the generator state is still usable.
                let mut rng = rng.lock().unwrap_or_else(|e| e.into_inner());
                rng.random_range(0..=max)
            }
            JitterSource::Off => max,
        };
        Duration::from_nanos(nanos)
    }
}

impl Default for Jitter {
    fn default() -> Self {
        Self::full()
    }
}

/// Exponential backoff: the ceiling doubles after every failed attempt, up
/// to a maximum, and the actual delay is drawn below it.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    jitter: Jitter,
}

impl Backoff {
    /// Backoff starting at `base` and never exceeding `max`.
    pub fn new(base: Duration, max: Duration, jitter: Jitter) -> Self {
        Self { base, max, jitter }
    }

    /// Ceiling of the delay after failed attempt `attempt` (1-based):
    /// `base * 2^(attempt - 1)`, capped at the maximum.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base
            .checked_mul(1 << doublings)
            .map_or(self.max, |d| d.min(self.max))
    }

    /// Delay to wait after failed attempt `attempt`.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.jitter.sample(self.ceiling(attempt))
    }
}

/// Parses a `Retry-After` value: delta-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`), measured from `now`. A date in the
/// past means "now" (zero).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Why a failed attempt is not followed by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    NotRetryable,
    UnsafeWrite,
    AttemptsExhausted,
    DeadlineTooClose,
    BudgetExhausted,
}

impl Stop {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::NotRetryable => "not_retryable",
            Self::UnsafeWrite => "unsafe_write",
            Self::AttemptsExhausted => "attempts_exhausted",
            Self::DeadlineTooClose => "deadline",
            Self::BudgetExhausted => "budget_exhausted",
        }
    }
}

/// Decides whether and when to retry, for one provider.
#[derive(Debug)]
pub(crate) struct RetryPolicy {
    max_attempts: u32,
    backoff: Backoff,
    // Finagle-style budget: every call deposits, every retry withdraws, so
    // during an outage retries stay a fraction of traffic instead of
    // multiplying it by `max_attempts`. It reads tokio's clock, so paused
    // test time drives it too.
    budget: TpsBudget,
}

impl RetryPolicy {
    /// Builds the policy; `config` must have passed validation, which keeps
    /// the budget parameters inside the range its constructor accepts.
    pub(crate) fn new(config: &PolicyConfig, jitter: Jitter) -> Self {
        Self {
            max_attempts: config.max_attempts,
            backoff: Backoff::new(config.backoff_base, config.backoff_max, jitter),
            budget: TpsBudget::new(
                config.retry_budget_ttl,
                config.retry_budget_min_per_sec,
                config.retry_budget_ratio,
            ),
        }
    }

    /// Records a new call, earning a fraction of a retry.
    pub(crate) fn record_call(&self) {
        self.budget.deposit();
    }

    /// Delay before the attempt after failed attempt `attempt`, or why
    /// there is none. A `Retry-After` from the provider is a floor: the
    /// wait is the longer of it and the backoff. When the provider asks for
    /// more time than the call has left, the call fails now with the
    /// provider's answer (its hint passed on) instead of sleeping past its
    /// deadline. The budget is charged only when a retry is granted.
    pub(crate) fn next_delay(
        &self,
        safety: Safety,
        error: &ProviderError,
        attempt: u32,
        remaining: Duration,
    ) -> Result<Duration, Stop> {
        if !error.is_retryable() {
            return Err(Stop::NotRetryable);
        }
        if !safety.allows_retry() {
            return Err(Stop::UnsafeWrite);
        }
        if attempt >= self.max_attempts {
            return Err(Stop::AttemptsExhausted);
        }
        let backoff = self.backoff.delay(attempt);
        let delay = error
            .retry_hint()
            .map_or(backoff, |asked| asked.max(backoff));
        // Waiting until the deadline would leave no time for the attempt.
        if delay >= remaining {
            return Err(Stop::DeadlineTooClose);
        }
        if !self.budget.withdraw() {
            return Err(Stop::BudgetExhausted);
        }
        Ok(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ceiling_doubles_up_to_the_maximum() {
        let backoff = Backoff::new(100 * MS, 1000 * MS, Jitter::off());
        let ceilings: Vec<_> = (1..=6).map(|a| backoff.ceiling(a)).collect();
        assert_eq!(
            ceilings,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
        assert_eq!(backoff.ceiling(u32::MAX), 1000 * MS);
        assert_eq!(backoff.delay(3), 400 * MS);
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_spreads() {
        let backoff = Backoff::new(100 * MS, 5000 * MS, Jitter::seeded(7));
        for attempt in 1..=8 {
            let ceiling = backoff.ceiling(attempt);
            let delays: Vec<_> = (0..200).map(|_| backoff.delay(attempt)).collect();
            assert!(delays.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter reaches well below half the ceiling and well above
            // it, unlike "equal" jitter which never goes under half.
            assert!(delays.iter().any(|d| *d < ceiling / 4), "attempt {attempt}");
            assert!(
                delays.iter().any(|d| *d > ceiling * 3 / 4),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn seeded_jitter_is_reproducible() {
        let draw = |seed| {
            let jitter = Jitter::seeded(seed);
            (0..5)
                .map(|_| jitter.sample(Duration::from_secs(1)))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        let date = "Wed, 21 Oct 2015 07:28:30 GMT";
        assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(30)));
        // The obsolete RFC 850 form is still accepted by HTTP/1.1.
        let rfc850 = "Wednesday, 21-Oct-15 07:29:00 GMT";
        assert_eq!(
            parse_retry_after(rfc850, now),
            Some(Duration::from_secs(60))
        );
        let past = "Wed, 21 Oct 2015 07:00:00 GMT";
        assert_eq!(parse_retry_after(past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }
}

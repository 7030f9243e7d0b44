//! Per-provider policy configuration.
//!
//! [`PolicyConfig`] is a plain struct so the service configuration can fill
//! it from environment variables; [`ENV_FIELDS`] lists the suffix for each
//! field and [`PolicyConfig::apply_env`] parses one value.

use std::time::Duration;

/// Settings of the policy stack for one provider.
///
/// Durations are set in milliseconds from the environment (`*_MS`).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// Longest time one attempt may take (`TIMEOUT_MS`, default 10 s).
    pub attempt_timeout: Duration,
    /// Longest time a whole call may take, retries and waits included
    /// (`DEADLINE_MS`, default 30 s).
    pub deadline: Duration,
    /// Attempts per call, the first one included (`MAX_ATTEMPTS`, default 3).
    pub max_attempts: u32,
    /// Backoff ceiling before the second attempt; it doubles after each
    /// failed attempt (`BACKOFF_BASE_MS`, default 100 ms).
    pub backoff_base: Duration,
    /// Largest backoff ceiling (`BACKOFF_MAX_MS`, default 5 s).
    pub backoff_max: Duration,
    /// How long calls and retries are remembered by the retry budget, 1 to
    /// 60 s (`RETRY_BUDGET_TTL_MS`, default 10 s).
    pub retry_budget_ttl: Duration,
    /// Retries per second always allowed, however few calls are made
    /// (`RETRY_BUDGET_MIN_PER_SEC`, default 1).
    pub retry_budget_min_per_sec: u32,
    /// Retries allowed per call made, on top of the minimum: 0.2 lets one
    /// call in five be retried (`RETRY_BUDGET_RATIO`, default 0.2).
    pub retry_budget_ratio: f32,
    /// Failure rate, in (0, 1], at or above which the breaker opens
    /// (`BREAKER_FAILURE_RATE`, default 0.5).
    pub breaker_failure_rate: f64,
    /// Number of most recent calls the breaker looks at
    /// (`BREAKER_WINDOW_CALLS`, default 20).
    pub breaker_window_calls: u32,
    /// Age beyond which a call drops out of the breaker window
    /// (`BREAKER_WINDOW_MS`, default 30 s).
    pub breaker_window: Duration,
    /// Calls the window must hold before the failure rate is acted on
    /// (`BREAKER_MIN_CALLS`, default 10).
    pub breaker_min_calls: u32,
    /// How long the breaker stays open before admitting trial calls
    /// (`BREAKER_OPEN_MS`, default 30 s).
    pub breaker_open_for: Duration,
    /// Trial calls admitted while half-open; that many successes close the
    /// breaker (`BREAKER_HALF_OPEN_CALLS`, default 3).
    pub breaker_half_open_calls: u32,
    /// Calls allowed in flight at once; more are rejected at once
    /// (`MAX_CONCURRENT`, default 32).
    pub max_concurrent: u32,
    /// Outbound requests per second; 0 turns the limiter off
    /// (`RATE_LIMIT_PER_SEC`, default 25, Stripe's test-mode limit).
    pub rate_limit_per_sec: u32,
    /// Requests that may be sent back to back before pacing starts
    /// (`RATE_LIMIT_BURST`, default 50).
    pub rate_limit_burst: u32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            max_attempts: 3,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            retry_budget_ttl: Duration::from_secs(10),
            retry_budget_min_per_sec: 1,
            retry_budget_ratio: 0.2,
            breaker_failure_rate: 0.5,
            breaker_window_calls: 20,
            breaker_window: Duration::from_secs(30),
            breaker_min_calls: 10,
            breaker_open_for: Duration::from_secs(30),
            breaker_half_open_calls: 3,
            max_concurrent: 32,
            rate_limit_per_sec: 25,
            rate_limit_burst: 50,
        }
    }
}

/// A configuration value that was rejected, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid provider policy setting `{field}`: {reason}")]
pub struct ConfigError {
    /// The [`PolicyConfig`] field (or, for an unknown suffix, `env`).
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// One [`PolicyConfig`] field as set from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvField {
    /// Variable suffix, appended to a per-provider prefix chosen by the
    /// service configuration (e.g. `PROVIDER_STRIPE_` + `TIMEOUT_MS`).
    pub suffix: &'static str,
    /// Name of the [`PolicyConfig`] field it sets.
    pub field: &'static str,
    /// Default value, written as it would be in the environment.
    pub default: &'static str,
}

/// Every [`PolicyConfig`] field with its environment suffix and default.
pub const ENV_FIELDS: &[EnvField] = &[
    env("TIMEOUT_MS", "attempt_timeout", "10000"),
    env("DEADLINE_MS", "deadline", "30000"),
    env("MAX_ATTEMPTS", "max_attempts", "3"),
    env("BACKOFF_BASE_MS", "backoff_base", "100"),
    env("BACKOFF_MAX_MS", "backoff_max", "5000"),
    env("RETRY_BUDGET_TTL_MS", "retry_budget_ttl", "10000"),
    env("RETRY_BUDGET_MIN_PER_SEC", "retry_budget_min_per_sec", "1"),
    env("RETRY_BUDGET_RATIO", "retry_budget_ratio", "0.2"),
    env("BREAKER_FAILURE_RATE", "breaker_failure_rate", "0.5"),
    env("BREAKER_WINDOW_CALLS", "breaker_window_calls", "20"),
    env("BREAKER_WINDOW_MS", "breaker_window", "30000"),
    env("BREAKER_MIN_CALLS", "breaker_min_calls", "10"),
    env("BREAKER_OPEN_MS", "breaker_open_for", "30000"),
    env("BREAKER_HALF_OPEN_CALLS", "breaker_half_open_calls", "3"),
    env("MAX_CONCURRENT", "max_concurrent", "32"),
    env("RATE_LIMIT_PER_SEC", "rate_limit_per_sec", "25"),
    env("RATE_LIMIT_BURST", "rate_limit_burst", "50"),
];

const fn env(suffix: &'static str, field: &'static str, default: &'static str) -> EnvField {
    EnvField {
        suffix,
        field,
        default,
    }
}

impl PolicyConfig {
    /// Sets the field named by an environment `suffix` (see [`ENV_FIELDS`])
    /// from its raw `value`. Does not validate the result as a whole; call
    /// [`PolicyConfig::validate`] once every value is applied.
    pub fn apply_env(&mut self, suffix: &str, value: &str) -> Result<(), ConfigError> {
        let field = ENV_FIELDS
            .iter()
            .find(|f| f.suffix == suffix)
            .ok_or_else(|| ConfigError::new("env", format!("unknown setting suffix `{suffix}`")))?
            .field;
        let value = value.trim();
        match suffix {
            "TIMEOUT_MS" => self.attempt_timeout = millis(field, value)?,
            "DEADLINE_MS" => self.deadline = millis(field, value)?,
            "MAX_ATTEMPTS" => self.max_attempts = number(field, value)?,
            "BACKOFF_BASE_MS" => self.backoff_base = millis(field, value)?,
            "BACKOFF_MAX_MS" => self.backoff_max = millis(field, value)?,
            "RETRY_BUDGET_TTL_MS" => self.retry_budget_ttl = millis(field, value)?,
            "RETRY_BUDGET_MIN_PER_SEC" => self.retry_budget_min_per_sec = number(field, value)?,
            "RETRY_BUDGET_RATIO" => self.retry_budget_ratio = number(field, value)?,
            "BREAKER_FAILURE_RATE" => self.breaker_failure_rate = number(field, value)?,
            "BREAKER_WINDOW_CALLS" => self.breaker_window_calls = number(field, value)?,
            "BREAKER_WINDOW_MS" => self.breaker_window = millis(field, value)?,
            "BREAKER_MIN_CALLS" => self.breaker_min_calls = number(field, value)?,
            "BREAKER_OPEN_MS" => self.breaker_open_for = millis(field, value)?,
            "BREAKER_HALF_OPEN_CALLS" => self.breaker_half_open_calls = number(field, value)?,
            "MAX_CONCURRENT" => self.max_concurrent = number(field, value)?,
            "RATE_LIMIT_PER_SEC" => self.rate_limit_per_sec = number(field, value)?,
            "RATE_LIMIT_BURST" => self.rate_limit_burst = number(field, value)?,
            // Unreachable while ENV_FIELDS and this match agree; a unit test
            // applies every entry of ENV_FIELDS to keep them in step.
            _ => return Err(ConfigError::new(field, "setting has no parser")),
        }
        Ok(())
    }

    /// Checks every field and the relations between them, naming the first
    /// field that is out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_timing()?;
        self.validate_retry()?;
        self.validate_breaker()?;
        self.validate_limits()
    }

    fn validate_timing(&self) -> Result<(), ConfigError> {
        positive("attempt_timeout", self.attempt_timeout)?;
        positive("deadline", self.deadline)?;
        if self.attempt_timeout > self.deadline {
            return Err(ConfigError::new(
                "attempt_timeout",
                format!(
                    "{:?} is longer than deadline {:?}",
                    self.attempt_timeout, self.deadline
                ),
            ));
        }
        Ok(())
    }

    fn validate_retry(&self) -> Result<(), ConfigError> {
        in_range("max_attempts", self.max_attempts, 1, 10)?;
        positive("backoff_base", self.backoff_base)?;
        if self.backoff_max < self.backoff_base {
            return Err(ConfigError::new(
                "backoff_max",
                "must be at least backoff_base",
            ));
        }
        // The retry budget accepts a 1..=60 s window and a ratio of at most
        // 1000 retries per call; outside that it would panic on construction.
        let ttl = self.retry_budget_ttl;
        if ttl < Duration::from_secs(1) || ttl > Duration::from_secs(60) {
            return Err(ConfigError::new(
                "retry_budget_ttl",
                "must be between 1 s and 60 s",
            ));
        }
        in_range(
            "retry_budget_min_per_sec",
            self.retry_budget_min_per_sec,
            0,
            100_000,
        )?;
        let ratio = self.retry_budget_ratio;
        if !ratio.is_finite() || !(0.0..=1000.0).contains(&ratio) {
            return Err(ConfigError::new(
                "retry_budget_ratio",
                "must be between 0 and 1000",
            ));
        }
        Ok(())
    }

    fn validate_breaker(&self) -> Result<(), ConfigError> {
        let rate = self.breaker_failure_rate;
        if !rate.is_finite() || rate <= 0.0 || rate > 1.0 {
            return Err(ConfigError::new(
                "breaker_failure_rate",
                "must be in (0, 1]",
            ));
        }
        in_range("breaker_window_calls", self.breaker_window_calls, 1, 10_000)?;
        positive("breaker_window", self.breaker_window)?;
        in_range(
            "breaker_min_calls",
            self.breaker_min_calls,
            1,
            self.breaker_window_calls,
        )?;
        positive("breaker_open_for", self.breaker_open_for)?;
        in_range(
            "breaker_half_open_calls",
            self.breaker_half_open_calls,
            1,
            1_000,
        )
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        in_range("max_concurrent", self.max_concurrent, 1, 100_000)?;
        in_range("rate_limit_per_sec", self.rate_limit_per_sec, 0, 1_000_000)?;
        if self.rate_limit_per_sec > 0 {
            in_range("rate_limit_burst", self.rate_limit_burst, 1, 1_000_000)?;
        }
        Ok(())
    }
}

fn millis(field: &'static str, value: &str) -> Result<Duration, ConfigError> {
    number::<u64>(field, value).map(Duration::from_millis)
}

fn number<T: std::str::FromStr>(field: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e| ConfigError::new(field, format!("cannot parse `{value}`: {e}")))
}

fn positive(field: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::new(field, "must be greater than zero"));
    }
    Ok(())
}

fn in_range(field: &'static str, value: u32, min: u32, max: u32) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::new(
            field,
            format!("{value} is outside {min}..={max}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(PolicyConfig::default().validate(), Ok(()));
    }

    #[test]
    fn env_table_matches_defaults_and_every_suffix_parses() {
        let mut config = PolicyConfig {
            attempt_timeout: Duration::from_millis(1),
            max_attempts: 9,
            ..PolicyConfig::default()
        };
        for field in ENV_FIELDS {
            config.apply_env(field.suffix, field.default).unwrap();
        }
        assert_eq!(config, PolicyConfig::default());
    }

    #[test]
    fn env_values_set_the_named_field() {
        let mut config = PolicyConfig::default();
        config.apply_env("TIMEOUT_MS", " 2500 ").unwrap();
        config.apply_env("BREAKER_FAILURE_RATE", "0.25").unwrap();
        assert_eq!(config.attempt_timeout, Duration::from_millis(2500));
        assert_eq!(config.breaker_failure_rate, 0.25);
    }

    #[test]
    fn bad_env_values_name_the_field() {
        let mut config = PolicyConfig::default();
        let err = config.apply_env("MAX_ATTEMPTS", "three").unwrap_err();
        assert_eq!(err.field, "max_attempts");
        let err = config.apply_env("NOPE", "1").unwrap_err();
        assert!(err.reason.contains("NOPE"));
    }

    #[test]
    fn validate_names_the_offending_field() {
        let cases: [(&str, PolicyConfig); 7] = [
            (
                "max_attempts",
                PolicyConfig {
                    max_attempts: 0,
                    ..Default::default()
                },
            ),
            (
                "attempt_timeout",
                PolicyConfig {
                    attempt_timeout: Duration::from_secs(31),
                    ..Default::default()
                },
            ),
            (
                "backoff_max",
                PolicyConfig {
                    backoff_max: Duration::ZERO,
                    ..Default::default()
                },
            ),
            (
                "retry_budget_ttl",
                PolicyConfig {
                    retry_budget_ttl: Duration::from_secs(61),
                    ..Default::default()
                },
            ),
            (
                "breaker_failure_rate",
                PolicyConfig {
                    breaker_failure_rate: 1.5,
                    ..Default::default()
                },
            ),
            (
                "breaker_min_calls",
                PolicyConfig {
                    breaker_min_calls: 21,
                    ..Default::default()
                },
            ),
            (
                "max_concurrent",
                PolicyConfig {
                    max_concurrent: 0,
                    ..Default::default()
                },
            ),
        ];
        for (field, config) in cases {
            let err = config.validate().unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(err.to_string().contains(field));
        }
    }

    #[test]
    fn disabled_rate_limit_needs_no_burst() {
        let config = PolicyConfig {
            rate_limit_per_sec: 0,
            rate_limit_burst: 0,
            ..Default::default()
        };
        assert_eq!(config.validate(), Ok(()));
    }
}

//! Per-provider policy configuration.
//!
//! Every knob is declared once, in the [`policy_knobs!`] table below: its field, type, group,
//! environment suffix, default and description. The table generates [`PolicyConfig`], its
//! `Default`, [`ENV_FIELDS`] (which the service configuration, `--help` and the table in
//! docs/resilience.md are made from) and [`PolicyConfig::apply_env`]. Only the checks of
//! [`PolicyConfig::validate`], which relate knobs to each other, are written by hand.

use std::time::Duration;

/// How a knob's environment value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Whole milliseconds, held as a [`Duration`].
    Millis,
    /// A plain number.
    Number,
}

/// Declares the knobs; see the module documentation.
macro_rules! policy_knobs {
    ($(
        $(#[doc = $doc:literal])+
        $group:literal $field:ident: $ty:ty = $unit:ident($suffix:literal, $default:literal $(, $note:literal)?);
    )+) => {
        /// Settings of the policy stack for one provider; [`ENV_FIELDS`] lists each with its
        /// environment suffix and default.
        #[derive(Debug, Clone, PartialEq)]
        pub struct PolicyConfig {
            $( $(#[doc = $doc])+ pub $field: $ty, )+
        }

        impl Default for PolicyConfig {
            fn default() -> Self {
                Self { $( $field: policy_knobs!(@value $unit $default), )+ }
            }
        }

        /// Every [`PolicyConfig`] field with its environment suffix, default and description.
        pub const ENV_FIELDS: &[EnvField] = &[$(
            EnvField {
                suffix: $suffix,
                field: stringify!($field),
                default: stringify!($default),
                unit: Unit::$unit,
                group: $group,
                note: policy_knobs!(@note $($note)?),
                help: concat!($($doc, "\n"),+),
            },
        )+];

        impl PolicyConfig {
            /// Sets the field named by an environment `suffix` (see [`ENV_FIELDS`]) from its raw
            /// `value`. Does not validate the result as a whole; call
            /// [`PolicyConfig::validate`] once every value is applied.
            pub fn apply_env(&mut self, suffix: &str, value: &str) -> Result<(), ConfigError> {
                let value = value.trim();
                match suffix {
                    $( $suffix => self.$field = policy_knobs!(@parse $unit stringify!($field), value), )+
                    _ => {
                        return Err(ConfigError::new(
                            "env",
                            format!("unknown setting suffix `{suffix}`"),
                        ));
                    }
                }
                Ok(())
            }
        }
    };
    (@value Millis $default:literal) => { Duration::from_millis($default) };
    (@value Number $default:literal) => { $default };
    (@parse Millis $field:expr, $value:ident) => { millis($field, $value)? };
    (@parse Number $field:expr, $value:ident) => { number($field, $value)? };
    (@note) => { "" };
    (@note $note:literal) => { $note };
}

policy_knobs! {
    /// Longest time a whole call may take, retries and waits included.
    "deadline" deadline: Duration = Millis("DEADLINE_MS", 30000);
    /// Longest time one attempt may take.
    "attempt timeout" attempt_timeout: Duration = Millis("TIMEOUT_MS", 10000);
    /// Attempts per call, the first one included.
    "retry" max_attempts: u32 = Number("MAX_ATTEMPTS", 3);
    /// Backoff ceiling before the second attempt; it doubles after each failed attempt.
    "retry" backoff_base: Duration = Millis("BACKOFF_BASE_MS", 100);
    /// Largest backoff ceiling.
    "retry" backoff_max: Duration = Millis("BACKOFF_MAX_MS", 5000);
    /// How long calls and retries are remembered by the retry budget.
    "retry budget" retry_budget_ttl: Duration = Millis("RETRY_BUDGET_TTL_MS", 10000, "1–60 s");
    /// Retries per second always allowed, however few calls are made.
    "retry budget" retry_budget_min_per_sec: u32 = Number("RETRY_BUDGET_MIN_PER_SEC", 1);
    /// Retries allowed per call made, on top of the minimum: 0.2 lets one call in five be
    /// retried.
    "retry budget" retry_budget_ratio: f32 = Number("RETRY_BUDGET_RATIO", 0.2);
    /// Failure rate, in (0, 1], at or above which the breaker opens.
    "circuit breaker" breaker_failure_rate: f64 = Number("BREAKER_FAILURE_RATE", 0.5);
    /// Number of most recent calls the breaker looks at.
    "circuit breaker" breaker_window_calls: u32 = Number("BREAKER_WINDOW_CALLS", 20);
    /// Age beyond which a call drops out of the breaker window.
    "circuit breaker" breaker_window: Duration = Millis("BREAKER_WINDOW_MS", 30000);
    /// Calls the window must hold before the failure rate is acted on.
    "circuit breaker" breaker_min_calls: u32 = Number("BREAKER_MIN_CALLS", 10);
    /// How long the breaker stays open before admitting trial calls.
    "circuit breaker" breaker_open_for: Duration = Millis("BREAKER_OPEN_MS", 30000);
    /// Trial calls admitted while half-open; that many successes close the breaker.
    "circuit breaker" breaker_half_open_calls: u32 = Number("BREAKER_HALF_OPEN_CALLS", 3);
    /// Calls allowed in flight at once; more are rejected at once.
    "bulkhead" max_concurrent: u32 = Number("MAX_CONCURRENT", 32);
    /// Outbound requests per second (Stripe's test-mode limit by default).
    "rate limit" rate_limit_per_sec: u32 = Number("RATE_LIMIT_PER_SEC", 25, "0 = off");
    /// Requests that may be sent back to back before pacing starts.
    "rate limit" rate_limit_burst: u32 = Number("RATE_LIMIT_BURST", 50);
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
    /// How the value is read.
    pub unit: Unit,
    /// The policy it belongs to (`retry`, `circuit breaker`, ...).
    pub group: &'static str,
    /// A range or special value worth showing next to the default; may be empty.
    pub note: &'static str,
    /// What it does: the field's documentation, one line per source line.
    pub help: &'static str,
}

impl EnvField {
    /// The description on one line.
    pub fn description(&self) -> String {
        self.help.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The default for people: `10 s`, `100 ms`, `0.2`, with the note if there is one.
    pub fn default_for_people(&self) -> String {
        let value = match (self.unit, self.default.parse::<u64>()) {
            (Unit::Millis, Ok(ms)) if ms % 1000 == 0 => format!("{} s", ms / 1000),
            (Unit::Millis, _) => format!("{} ms", self.default),
            (Unit::Number, _) => self.default.to_owned(),
        };
        match self.note {
            "" => value,
            note => format!("{value} ({note})"),
        }
    }

    /// The default as the variable takes it, with the note if there is one: `10000; 1–60 s`.
    fn default_for_env(&self) -> String {
        match self.note {
            "" => self.default.to_owned(),
            note => format!("{}; {note}", self.default),
        }
    }
}

/// The `--help` section on provider policies, made from [`ENV_FIELDS`].
pub fn env_help() -> String {
    let mut help = String::from(
        "Provider resilience: for each provider NAME (stripe, sandbox, or a login provider):\n",
    );
    for field in ENV_FIELDS {
        let variable = format!("PROVIDER_<NAME>_{}", field.suffix);
        help.push_str(&format!(
            "  {variable:<40} {} (default {})\n",
            field.description(),
            field.default_for_env()
        ));
    }
    help
}

/// The Markdown table of docs/resilience.md, made from [`ENV_FIELDS`].
pub fn env_table() -> String {
    let mut table = String::from(
        "| policy | field | env suffix | default | meaning |\n|---|---|---|---|---|\n",
    );
    let mut group = "";
    for field in ENV_FIELDS {
        let shown = if field.group == group {
            ""
        } else {
            field.group
        };
        group = field.group;
        table.push_str(&format!(
            "| {shown} | `{}` | `{}` | {} | {} |\n",
            field.field,
            field.suffix,
            field.default_for_people(),
            field.description()
        ));
    }
    table
}

impl PolicyConfig {
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

    /// The table in docs/resilience.md is the generated one: a knob added, renamed or given a new
    /// default without the docs fails here (print the new table with `env_table()`).
    #[test]
    fn docs_table_is_the_generated_one() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/resilience.md"))
                .unwrap();
        let start = doc
            .find("<!-- policy table:")
            .and_then(|i| doc[i..].find('\n').map(|n| i + n + 1))
            .expect("docs/resilience.md marks the start of its policy table");
        let end = doc
            .find("<!-- end of policy table -->")
            .expect("docs/resilience.md marks the end of its policy table");
        assert_eq!(
            doc[start..end],
            env_table(),
            "docs/resilience.md is out of date"
        );
    }

    #[test]
    fn help_names_every_variable_with_its_default() {
        let help = env_help();
        for field in ENV_FIELDS {
            let line = help
                .lines()
                .find(|l| l.contains(&format!("PROVIDER_<NAME>_{} ", field.suffix)))
                .unwrap_or_else(|| panic!("no line for {}", field.suffix));
            assert!(line.contains(&field.default_for_env()), "{line}");
        }
        assert!(help.contains("(default 10000)"), "{help}");
        assert!(help.contains("(default 25; 0 = off)"), "{help}");
    }

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

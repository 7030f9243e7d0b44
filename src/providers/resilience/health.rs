//! Health of a provider as seen by its circuit breaker.

use chrono::{DateTime, Utc};

/// State of a provider's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls flow; failures are being counted.
    Closed,
    /// Calls fail fast without reaching the provider.
    Open,
    /// A limited number of trial calls decide whether to close again.
    HalfOpen,
}

impl BreakerState {
    /// Lower-case name, used in metric labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    /// Value of the `provider_breaker_state` gauge: 0 closed, 1 half-open,
    /// 2 open, so "higher is worse" on a dashboard.
    pub fn gauge_value(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }
}

/// Snapshot of one provider's health, for `providerHealth` and
/// `/health/ready`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderHealth {
    /// Provider name, e.g. `stripe` or an identity provider's name.
    pub name: String,
    /// Circuit breaker state.
    pub state: BreakerState,
    /// Share of failed calls in the breaker's current window, 0.0 to 1.0.
    pub failure_rate: f64,
    /// When the last call counted as a failure ended, if any did.
    pub last_failure_at: Option<DateTime<Utc>>,
}

impl ProviderHealth {
    /// Whether calls to the provider are being refused or rationed. A
    /// degraded provider makes readiness report it, not fail.
    pub fn is_degraded(&self) -> bool {
        self.state != BreakerState::Closed
    }
}

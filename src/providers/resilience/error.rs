//! The error every outbound provider call returns.
//!
//! Provider adapters classify a failure exactly once (see [`super::http`]);
//! the policies then act on the class, never on raw status codes.

use std::time::Duration;

/// Failure of a call to a third-party provider.
///
/// The first four variants are produced by provider adapters; the rest are
/// produced by the policy stack itself when it refuses or abandons a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider could not be reached or failed on its side (connect
    /// error, reset connection, 5xx). Worth retrying.
    #[error("provider unavailable: {message}")]
    Transient {
        /// Human-readable cause, safe to log.
        message: String,
    },
    /// The attempt did not finish within the per-attempt timeout.
    #[error("provider did not answer within the attempt timeout")]
    Timeout,
    /// The provider answered 429 (or 503 with `Retry-After`): it asks us to
    /// slow down.
    #[error("provider rate limit reached")]
    RateLimited {
        /// How long the provider asked us to wait, when it said so.
        retry_after: Option<Duration>,
    },
    /// The provider rejected the request and repeating it cannot help
    /// (4xx such as a card decline, or a response marked not retryable).
    #[error("provider rejected the request: {message}")]
    Permanent {
        /// HTTP status, when the failure came from an HTTP response.
        status: Option<u16>,
        /// Provider error code, e.g. Stripe's `card_declined` or OAuth's
        /// `invalid_grant`.
        code: Option<String>,
        /// Human-readable cause, safe to log.
        message: String,
    },
    /// The circuit breaker is open: the call was not sent.
    #[error("provider circuit open; retry in {retry_after:?}")]
    CircuitOpen {
        /// Time until the breaker admits trial calls again.
        retry_after: Duration,
    },
    /// Too many calls to this provider are already in flight: the call was
    /// not sent.
    #[error("too many concurrent calls to the provider")]
    BulkheadFull,
    /// The outbound rate limiter could not grant a slot before the overall
    /// deadline: the call was not sent.
    #[error("outbound rate limit reached; retry in {retry_after:?}")]
    RateLimitExceeded {
        /// Time until a slot would have been free.
        retry_after: Duration,
    },
    /// The overall deadline of the call ran out.
    #[error("provider call deadline exceeded")]
    DeadlineExceeded,
}

impl ProviderError {
    /// Whether the failure class is worth another attempt.
    ///
    /// The retry policy additionally checks the operation's safety, the
    /// attempt count, the retry budget and the deadline. Policy rejections
    /// are not retryable: retrying into an open breaker or a full bulkhead
    /// only adds load where the stack just decided to shed it.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Transient { .. } | Self::Timeout | Self::RateLimited { .. }
        )
    }

    /// When the caller may try again, if known.
    ///
    /// The GraphQL layer passes this on with `PROVIDER_UNAVAILABLE`.
    pub fn retry_hint(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            Self::CircuitOpen { retry_after } | Self::RateLimitExceeded { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// Whether the failure is evidence that the provider is unhealthy and
    /// so counts towards opening the circuit breaker.
    ///
    /// A 4xx is the provider working correctly (a declined card is a healthy
    /// answer), and a 429 says "slow down", not "broken"; neither counts.
    /// A 5xx marked not retryable is still a server-side failure and counts.
    pub fn counts_as_failure(&self) -> bool {
        match self {
            Self::Transient { .. } | Self::Timeout => true,
            Self::Permanent { status, .. } => status.is_some_and(|s| s >= 500),
            _ => false,
        }
    }

    /// Whether the provider is unavailable rather than refusing this request.
    ///
    /// True for every failure except a permanent 4xx-class rejection; this is
    /// what decides whether a fallback may be served and whether the GraphQL
    /// layer reports `PROVIDER_UNAVAILABLE`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Permanent { .. } => self.counts_as_failure(),
            _ => true,
        }
    }

    /// Whether the policy stack refused the call before it reached the
    /// provider (open breaker, full bulkhead, outbound rate limit).
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Self::CircuitOpen { .. } | Self::BulkheadFull | Self::RateLimitExceeded { .. }
        )
    }

    /// Short, stable name of the class, used as a metric label and in logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Transient { .. } => "transient",
            Self::Timeout => "timeout",
            Self::RateLimited { .. } => "rate_limited",
            Self::Permanent { .. } => "permanent",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::BulkheadFull => "bulkhead_full",
            Self::RateLimitExceeded { .. } => "rate_limit_exceeded",
            Self::DeadlineExceeded => "deadline_exceeded",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permanent(status: u16) -> ProviderError {
        ProviderError::Permanent {
            status: Some(status),
            code: Some("card_declined".into()),
            message: "Your card was declined.".into(),
        }
    }

    #[test]
    fn only_provider_side_failures_are_retryable() {
        assert!(
            ProviderError::Transient {
                message: "reset".into()
            }
            .is_retryable()
        );
        assert!(ProviderError::Timeout.is_retryable());
        assert!(ProviderError::RateLimited { retry_after: None }.is_retryable());
        assert!(!permanent(402).is_retryable());
        assert!(!ProviderError::BulkheadFull.is_retryable());
        assert!(!ProviderError::DeadlineExceeded.is_retryable());
        let open = ProviderError::CircuitOpen {
            retry_after: Duration::from_secs(1),
        };
        assert!(!open.is_retryable());
    }

    #[test]
    fn card_decline_is_not_a_breaker_failure_but_a_5xx_is() {
        assert!(!permanent(402).counts_as_failure());
        assert!(!permanent(402).is_unavailable());
        assert!(permanent(500).counts_as_failure());
        assert!(permanent(500).is_unavailable());
        assert!(!ProviderError::RateLimited { retry_after: None }.counts_as_failure());
        assert!(ProviderError::Timeout.counts_as_failure());
    }

    #[test]
    fn retry_hint_comes_from_the_error_that_knows_it() {
        let secs = Duration::from_secs(7);
        let limited = ProviderError::RateLimited {
            retry_after: Some(secs),
        };
        assert_eq!(limited.retry_hint(), Some(secs));
        let open = ProviderError::CircuitOpen { retry_after: secs };
        assert_eq!(open.retry_hint(), Some(secs));
        let local = ProviderError::RateLimitExceeded { retry_after: secs };
        assert_eq!(local.retry_hint(), Some(secs));
        assert_eq!(ProviderError::Timeout.retry_hint(), None);
        assert!(open.is_rejection() && local.is_rejection());
        assert!(!ProviderError::Timeout.is_rejection());
    }
}

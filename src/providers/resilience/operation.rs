//! What a call does, and which attempt of it is running.

use std::time::Duration;

/// Whether repeating a request can change the outcome on the provider's side
/// more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Safety {
    /// Reads nothing but state: always safe to repeat.
    Read,
    /// A write that carries an idempotency key, so the provider applies it at
    /// most once however often it is sent. Send the same key on every attempt.
    IdempotentWrite,
    /// A write without an idempotency key: never retried, because a timed-out
    /// attempt may still have been applied.
    UnsafeWrite,
}

impl Safety {
    /// Whether the retry policy may repeat an operation of this kind.
    pub fn allows_retry(self) -> bool {
        !matches!(self, Self::UnsafeWrite)
    }
}

/// A named provider operation, e.g. `stripe` `payment_intents.create`.
///
/// The name becomes the `operation` metric label, so it must come from a
/// small fixed set (hence `&'static str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operation {
    /// Stable, low-cardinality operation name.
    pub name: &'static str,
    /// Whether the operation may be retried.
    pub safety: Safety,
}

impl Operation {
    /// A read, e.g. `jwks.fetch` or `customers.retrieve`.
    pub const fn read(name: &'static str) -> Self {
        Self {
            name,
            safety: Safety::Read,
        }
    }

    /// A write sent with an idempotency key, e.g. `payment_intents.create`.
    pub const fn idempotent_write(name: &'static str) -> Self {
        Self {
            name,
            safety: Safety::IdempotentWrite,
        }
    }

    /// A write that must not be repeated, e.g. an OAuth code exchange (the
    /// code is single-use).
    pub const fn unsafe_write(name: &'static str) -> Self {
        Self {
            name,
            safety: Safety::UnsafeWrite,
        }
    }
}

/// Facts about the attempt the closure is asked to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    number: u32,
    timeout: Duration,
}

impl Attempt {
    pub(crate) fn new(number: u32, timeout: Duration) -> Self {
        Self { number, timeout }
    }

    /// Attempt number, starting at 1.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// Whether an earlier attempt of the same call failed.
    pub fn is_retry(&self) -> bool {
        self.number > 1
    }

    /// Time this attempt may take: the attempt timeout, or less when the
    /// overall deadline is nearer. Useful as an HTTP client's request
    /// timeout so the connection is abandoned at the same moment.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unsafe_writes_refuse_retries() {
        assert!(Operation::read("jwks.fetch").safety.allows_retry());
        assert!(
            Operation::idempotent_write("refunds.create")
                .safety
                .allows_retry()
        );
        assert!(
            !Operation::unsafe_write("token.exchange")
                .safety
                .allows_retry()
        );
    }

    #[test]
    fn attempt_reports_retries() {
        let first = Attempt::new(1, Duration::from_secs(1));
        assert!(!first.is_retry());
        assert!(Attempt::new(2, Duration::from_secs(1)).is_retry());
        assert_eq!(first.timeout(), Duration::from_secs(1));
    }
}

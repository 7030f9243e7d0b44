//! Outbound rate limiter: a token bucket, implemented as the generic cell
//! rate algorithm (GCRA).
//!
//! GCRA keeps one timestamp, the theoretical arrival time of the next
//! request, instead of a token count refilled by a timer. It admits the
//! same traffic as a bucket of `burst` tokens refilled at `rate` per second,
//! needs no background task, and reads tokio's clock, so paused test time
//! drives it exactly.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Token bucket pacing requests to one provider.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    // Time one token takes to refill.
    interval: Duration,
    // How far ahead of the steady pace a request may go: the burst.
    tolerance: Duration,
    next_free: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// A limiter of `per_sec` requests per second with bursts of `burst`;
    /// `None` when `per_sec` is 0 (unlimited). Both were validated.
    pub(crate) fn new(per_sec: u32, burst: u32) -> Option<Self> {
        if per_sec == 0 {
            return None;
        }
        let interval = Duration::from_secs(1) / per_sec;
        let tolerance = interval * burst.saturating_sub(1);
        Some(Self {
            interval,
            tolerance,
            next_free: Mutex::new(None),
        })
    }

    /// Reserves the next slot. Returns how long to wait before sending, or,
    /// when that wait would exceed `max_wait`, reserves nothing and returns
    /// the wait as an error so the caller can pass it on as a retry hint.
    pub(crate) fn reserve(&self, now: Instant, max_wait: Duration) -> Result<Duration, Duration> {
        // Poisoning cannot leave the timestamp half-written, so reuse it.
        let mut next_free = self.next_free.lock().unwrap_or_else(|e| e.into_inner());
        let arrival = next_free.map_or(now, |t| t.max(now));
        let wait = arrival
            .saturating_duration_since(now)
            .saturating_sub(self.tolerance);
        if wait > max_wait {
            return Err(wait);
        }
        *next_free = Some(arrival + self.interval);
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test(start_paused = true)]
    async fn burst_passes_then_requests_are_paced() {
        let limiter = RateLimiter::new(10, 3).expect("enabled");
        let now = Instant::now();
        let waits: Vec<_> = (0..6)
            .map(|_| limiter.reserve(now, 10 * 1000 * MS))
            .collect();
        assert_eq!(
            waits,
            [
                Ok(Duration::ZERO),
                Ok(Duration::ZERO),
                Ok(Duration::ZERO),
                Ok(100 * MS),
                Ok(200 * MS),
                Ok(300 * MS)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_refill_with_time() {
        let limiter = RateLimiter::new(10, 1).expect("enabled");
        let start = Instant::now();
        assert_eq!(limiter.reserve(start, MS), Ok(Duration::ZERO));
        assert_eq!(limiter.reserve(start + 50 * MS, MS), Err(50 * MS));
        assert_eq!(limiter.reserve(start + 100 * MS, MS), Ok(Duration::ZERO));
        // A long quiet spell refills at most `burst` tokens.
        let later = start + 10 * 1000 * MS;
        assert_eq!(limiter.reserve(later, MS), Ok(Duration::ZERO));
        assert_eq!(limiter.reserve(later, MS), Err(100 * MS));
    }

    #[tokio::test(start_paused = true)]
    async fn refused_reservations_take_nothing() {
        let limiter = RateLimiter::new(1, 1).expect("enabled");
        let now = Instant::now();
        assert_eq!(limiter.reserve(now, Duration::ZERO), Ok(Duration::ZERO));
        for _ in 0..3 {
            assert_eq!(limiter.reserve(now, 500 * MS), Err(1000 * MS));
        }
        assert_eq!(limiter.reserve(now, 1000 * MS), Ok(1000 * MS));
    }

    #[test]
    fn zero_rate_disables_the_limiter() {
        assert!(RateLimiter::new(0, 0).is_none());
    }
}

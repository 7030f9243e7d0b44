//! Circuit breaker driven by the failure rate over a sliding window.
//!
//! The window holds the outcomes of the most recent calls, bounded both by
//! count and by age, so a quiet provider is judged on recent traffic only.
//! Once it holds enough calls and the failure share reaches the threshold,
//! the breaker opens; after a pause it lets a few trial calls through and
//! closes only if they all succeed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::config::PolicyConfig;
use super::health::BreakerState;
use super::metrics;

/// How a finished call counts for the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallResult {
    /// The provider answered as a healthy provider does.
    Success,
    /// Evidence the provider is unhealthy.
    Failure,
    /// Says nothing about health (e.g. cut short by our own deadline); a
    /// half-open trial slot is handed back.
    Ignored,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    failure_rate: f64,
    window_calls: usize,
    window: Duration,
    min_calls: usize,
    open_for: Duration,
    half_open_calls: u32,
    // Hint given to callers refused while the trial slots are taken: trials
    // settle within one attempt timeout.
    busy_hint: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { admitted: u32, succeeded: u32 },
}

impl Phase {
    fn state(self) -> BreakerState {
        match self {
            Self::Closed => BreakerState::Closed,
            Self::Open { .. } => BreakerState::Open,
            Self::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

/// Outcomes of recent calls, oldest first.
#[derive(Debug, Default)]
struct Window {
    calls: VecDeque<(Instant, bool)>,
    failures: usize,
}

impl Window {
    fn push(&mut self, now: Instant, failed: bool, settings: &Settings) {
        self.calls.push_back((now, failed));
        self.failures += usize::from(failed);
        self.evict(now, settings);
    }

    fn evict(&mut self, now: Instant, settings: &Settings) {
        while let Some(&(at, failed)) = self.calls.front() {
            let too_many = self.calls.len() > settings.window_calls;
            if !too_many && now.saturating_duration_since(at) <= settings.window {
                break;
            }
            self.calls.pop_front();
            self.failures -= usize::from(failed);
        }
    }

    fn rate(&self) -> f64 {
        if self.calls.is_empty() {
            return 0.0;
        }
        self.failures as f64 / self.calls.len() as f64
    }

    fn clear(&mut self) {
        self.calls.clear();
        self.failures = 0;
    }
}

#[derive(Debug, Clone, Copy)]
struct Transition {
    from: BreakerState,
    to: BreakerState,
    failure_rate: f64,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    // Bumped on every transition; outcomes of calls admitted under an
    // earlier generation are stale and ignored (e.g. a slow call that was
    // admitted while closed must not close a breaker that opened since).
    generation: u64,
    window: Window,
    last_failure_at: Option<DateTime<Utc>>,
}

impl State {
    fn move_to(&mut self, phase: Phase) -> Option<Transition> {
        let from = self.phase.state();
        self.phase = phase;
        self.generation += 1;
        let failure_rate = self.window.rate();
        Some(Transition {
            from,
            to: phase.state(),
            failure_rate,
        })
    }

    /// Applies the passage of time: an open breaker whose pause is over
    /// becomes half-open; a closed window forgets calls that aged out.
    fn refresh(&mut self, now: Instant, settings: &Settings) -> Option<Transition> {
        match self.phase {
            Phase::Open { until } if now >= until => self.move_to(Phase::HalfOpen {
                admitted: 0,
                succeeded: 0,
            }),
            Phase::Closed => {
                self.window.evict(now, settings);
                None
            }
            _ => None,
        }
    }

    fn admit(&mut self, now: Instant, settings: &Settings) -> Result<u64, Duration> {
        match &mut self.phase {
            Phase::Closed => Ok(self.generation),
            Phase::Open { until } => Err(until.saturating_duration_since(now)),
            Phase::HalfOpen { admitted, .. } if *admitted < settings.half_open_calls => {
                *admitted += 1;
                Ok(self.generation)
            }
            Phase::HalfOpen { .. } => Err(settings.busy_hint),
        }
    }

    fn settle(
        &mut self,
        now: Instant,
        result: CallResult,
        settings: &Settings,
    ) -> Option<Transition> {
        let open = Phase::Open {
            until: now + settings.open_for,
        };
        match (&mut self.phase, result) {
            (Phase::Closed, CallResult::Ignored) => None,
            (Phase::Closed, result) => {
                let failed = result == CallResult::Failure;
                self.window.push(now, failed, settings);
                let tripped = self.window.calls.len() >= settings.min_calls
                    && self.window.rate() >= settings.failure_rate;
                if failed && tripped {
                    self.move_to(open)
                } else {
                    None
                }
            }
            (Phase::HalfOpen { succeeded, .. }, CallResult::Success) => {
                *succeeded += 1;
                if *succeeded < settings.half_open_calls {
                    return None;
                }
                self.window.clear();
                self.move_to(Phase::Closed)
            }
            (Phase::HalfOpen { .. }, CallResult::Failure) => self.move_to(open),
            (Phase::HalfOpen { admitted, .. }, CallResult::Ignored) => {
                *admitted = admitted.saturating_sub(1);
                None
            }
            (Phase::Open { .. }, _) => None,
        }
    }
}

/// Failure-rate circuit breaker of one provider.
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    provider: Arc<str>,
    settings: Settings,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub(crate) fn new(provider: Arc<str>, config: &PolicyConfig) -> Self {
        let settings = Settings {
            failure_rate: config.breaker_failure_rate,
            window_calls: config.breaker_window_calls as usize,
            window: config.breaker_window,
            min_calls: config.breaker_min_calls as usize,
            open_for: config.breaker_open_for,
            half_open_calls: config.breaker_half_open_calls,
            busy_hint: config.attempt_timeout,
        };
        metrics::breaker_state(&provider, BreakerState::Closed);
        let state = State {
            phase: Phase::Closed,
            generation: 0,
            window: Window::default(),
            last_failure_at: None,
        };
        Self {
            provider,
            settings,
            state: Mutex::new(state),
        }
    }

    /// Admits a call, or says how long until calls may be admitted again.
    pub(crate) fn try_acquire(&self) -> Result<BreakerPermit<'_>, Duration> {
        let now = Instant::now();
        let (admitted, transition) = {
            let mut state = self.lock();
            let transition = state.refresh(now, &self.settings);
            (state.admit(now, &self.settings), transition)
        };
        self.announce(transition);
        admitted.map(|generation| BreakerPermit {
            breaker: self,
            generation,
            settled: false,
        })
    }

    /// Current state, window failure rate and time of the last failure.
    pub(crate) fn snapshot(&self) -> (BreakerState, f64, Option<DateTime<Utc>>) {
        let now = Instant::now();
        let (snapshot, transition) = {
            let mut state = self.lock();
            let transition = state.refresh(now, &self.settings);
            let snapshot = (
                state.phase.state(),
                state.window.rate(),
                state.last_failure_at,
            );
            (snapshot, transition)
        };
        self.announce(transition);
        snapshot
    }

    fn settle(&self, generation: u64, result: CallResult) {
        let now = Instant::now();
        let failed_at = (result == CallResult::Failure).then(Utc::now);
        let transition = {
            let mut state = self.lock();
            if failed_at.is_some() {
                state.last_failure_at = failed_at;
            }
            if state.generation != generation {
                return;
            }
            state.settle(now, result, &self.settings)
        };
        self.announce(transition);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent before any
        // operation that could panic, so a poisoned lock is safe to reuse.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    // Logged and counted after the lock is released, so a slow log sink or
    // metrics recorder never holds up other callers.
    fn announce(&self, transition: Option<Transition>) {
        let Some(Transition {
            from,
            to,
            failure_rate,
        }) = transition
        else {
            return;
        };
        tracing::warn!(
            provider = %self.provider,
            from = from.as_str(),
            to = to.as_str(),
            failure_rate,
            "provider circuit breaker changed state"
        );
        metrics::breaker_transition(&self.provider, from, to);
    }
}

/// Admission to make one call; settle it with the call's result. Dropping
/// it unsettled (the caller was cancelled, or a later policy refused the
/// call) counts as [`CallResult::Ignored`], which frees a half-open slot.
#[derive(Debug)]
pub(crate) struct BreakerPermit<'a> {
    breaker: &'a CircuitBreaker,
    generation: u64,
    settled: bool,
}

impl BreakerPermit<'_> {
    pub(crate) fn settle(mut self, result: CallResult) {
        self.settled = true;
        self.breaker.settle(self.generation, result);
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.settle(self.generation, CallResult::Ignored);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    fn breaker() -> CircuitBreaker {
        let config = PolicyConfig {
            breaker_window_calls: 10,
            breaker_min_calls: 4,
            breaker_window: Duration::from_secs(30),
            ..PolicyConfig::default()
        };
        CircuitBreaker::new(Arc::from("test"), &config)
    }

    fn call(breaker: &CircuitBreaker, result: CallResult) {
        breaker.try_acquire().expect("admitted").settle(result);
    }

    fn state(breaker: &CircuitBreaker) -> BreakerState {
        breaker.snapshot().0
    }

    #[tokio::test(start_paused = true)]
    async fn rate_below_threshold_keeps_it_closed() {
        let breaker = breaker();
        for result in [
            CallResult::Failure,
            CallResult::Success,
            CallResult::Success,
        ] {
            call(&breaker, result);
        }
        call(&breaker, CallResult::Success);
        call(&breaker, CallResult::Failure);
        // 2 of 5 failed: 40 % < 50 %.
        assert_eq!(state(&breaker), BreakerState::Closed);
        assert!((breaker.snapshot().1 - 0.4).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn count_bound_drops_the_oldest_calls() {
        let breaker = breaker();
        for _ in 0..3 {
            call(&breaker, CallResult::Failure);
        }
        for _ in 0..10 {
            call(&breaker, CallResult::Success);
        }
        // The three failures were pushed out by ten newer successes.
        assert_eq!(breaker.snapshot().1, 0.0);
        call(&breaker, CallResult::Failure);
        assert_eq!(state(&breaker), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn opens_once_min_calls_reached_at_threshold() {
        let breaker = breaker();
        call(&breaker, CallResult::Success);
        call(&breaker, CallResult::Failure);
        call(&breaker, CallResult::Success);
        assert_eq!(
            state(&breaker),
            BreakerState::Closed,
            "3 calls < minimum of 4"
        );
        call(&breaker, CallResult::Failure);
        // 2 of 4 = 50 %, at the threshold.
        assert_eq!(state(&breaker), BreakerState::Open);
        let wait = breaker.try_acquire().expect_err("open");
        assert_eq!(wait, Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn age_bound_forgets_old_failures() {
        let breaker = breaker();
        for _ in 0..3 {
            call(&breaker, CallResult::Failure);
        }
        advance(Duration::from_secs(31)).await;
        // Without the age bound this would be the 4th failure of 4 calls.
        call(&breaker, CallResult::Failure);
        assert_eq!(state(&breaker), BreakerState::Closed);
        assert_eq!(breaker.snapshot().1, 1.0, "one recent call, failed");
    }

    #[tokio::test(start_paused = true)]
    async fn ignored_results_do_not_count_and_free_trial_slots() {
        let breaker = breaker();
        for _ in 0..10 {
            call(&breaker, CallResult::Ignored);
        }
        assert_eq!(breaker.snapshot().1, 0.0);
        for _ in 0..4 {
            call(&breaker, CallResult::Failure);
        }
        assert_eq!(state(&breaker), BreakerState::Open);
        advance(Duration::from_secs(30)).await;
        let trials: Vec<_> = (0..3)
            .map(|_| breaker.try_acquire().expect("trial"))
            .collect();
        assert!(breaker.try_acquire().is_err(), "only three trials");
        drop(trials);
        assert!(
            breaker.try_acquire().is_ok(),
            "dropped trials free their slots"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stale_results_do_not_move_a_newer_state() {
        let breaker = breaker();
        let slow = breaker.try_acquire().expect("closed");
        for _ in 0..4 {
            call(&breaker, CallResult::Failure);
        }
        assert_eq!(state(&breaker), BreakerState::Open);
        advance(Duration::from_secs(30)).await;
        assert_eq!(state(&breaker), BreakerState::HalfOpen);
        // Admitted while closed; must not count as a half-open trial.
        slow.settle(CallResult::Success);
        call(&breaker, CallResult::Success);
        call(&breaker, CallResult::Success);
        assert_eq!(state(&breaker), BreakerState::HalfOpen);
        call(&breaker, CallResult::Success);
        assert_eq!(state(&breaker), BreakerState::Closed);
        assert_eq!(breaker.snapshot().1, 0.0, "window starts afresh");
        assert!(breaker.snapshot().2.is_some(), "last failure is remembered");
    }
}

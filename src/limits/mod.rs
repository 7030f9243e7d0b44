//! Abuse limits shared by the HTTP and GraphQL layers: inbound request rates per client address
//! and per user ([`InboundLimits`], on `governor`), the client address behind trusted proxies
//! ([`client_ip`]), and WebSocket caps ([`sockets`]).
//!
//! Limits answer `RATE_LIMITED` with a retry hint; they never queue work.

pub mod client_ip;
mod settings;
pub mod sockets;

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{Quota as GovernorQuota, RateLimiter};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::AppError;

pub use client_ip::ClientIp;
pub use settings::{Cidr, Quota, RateLimits, SocketLimits};

/// How often idle rate-limit entries are forgotten, so memory follows active clients only.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// One keyed limiter: a GCRA cell per key, in a map that the sweep prunes.
struct Keyed<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, governor::state::keyed::DefaultKeyedStateStore<K>, DefaultClock>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(quota: Quota) -> Self {
        let governor_quota =
            GovernorQuota::with_period(Duration::from_secs(60) / quota.per_minute.get())
                .unwrap_or_else(|| GovernorQuota::per_second(NonZeroU32::MAX))
                .allow_burst(quota.burst);
        Self {
            limiter: RateLimiter::keyed(governor_quota),
            clock: DefaultClock::default(),
        }
    }

    /// Takes `n` cells for `key`, or says how long to wait.
    fn take(&self, key: &K, n: u32) -> Result<(), Duration> {
        let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        match self.limiter.check_key_n(key, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(self.clock.now())),
            // More at once than the burst allows: never passes, so wait out a full minute.
            Err(_) => Err(Duration::from_secs(60)),
        }
    }

    fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.limiter.len()
    }
}

/// What kind of costly operation a request asks for, each with its own tighter quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Costly {
    /// Starting, finishing or refreshing a login: counted per client address.
    Login,
    /// A payment mutation, which spends the shared provider budget: counted per user.
    Payment,
}

/// Inbound rate limits of one server process.
pub struct InboundLimits {
    anonymous: Option<Keyed<IpAddr>>,
    user: Option<Keyed<Uuid>>,
    login: Option<Keyed<IpAddr>>,
    payments: Option<Keyed<Uuid>>,
    trusted_proxies: Vec<Cidr>,
}

impl InboundLimits {
    /// Limiters for the configured quotas.
    pub fn new(config: &RateLimits) -> Arc<Self> {
        Arc::new(Self {
            anonymous: config.anonymous.map(Keyed::new),
            user: config.user.map(Keyed::new),
            login: config.login.map(Keyed::new),
            payments: config.payments.map(Keyed::new),
            trusted_proxies: config.trusted_proxies.clone(),
        })
    }

    /// Proxies whose `X-Forwarded-For` is believed.
    pub fn trusted_proxies(&self) -> &[Cidr] {
        &self.trusted_proxies
    }

    /// Counts one request of a caller who is not signed in.
    pub fn anonymous(&self, client: IpAddr) -> Result<(), AppError> {
        check(self.anonymous.as_ref(), &bucket_of(client), 1)
    }

    /// Counts one operation of a signed-in user.
    pub fn user(&self, user: Uuid) -> Result<(), AppError> {
        check(self.user.as_ref(), &user, 1)
    }

    /// Counts `n` login operations from `client`.
    pub fn login(&self, client: IpAddr, n: u32) -> Result<(), AppError> {
        check(self.login.as_ref(), &bucket_of(client), n)
    }

    /// Counts `n` payment mutations of `user`.
    pub fn payments(&self, user: Uuid, n: u32) -> Result<(), AppError> {
        check(self.payments.as_ref(), &user, n)
    }

    /// Keys currently remembered across all limiters (for tests and metrics).
    pub fn tracked_keys(&self) -> usize {
        self.anonymous.as_ref().map_or(0, Keyed::len)
            + self.user.as_ref().map_or(0, Keyed::len)
            + self.login.as_ref().map_or(0, Keyed::len)
            + self.payments.as_ref().map_or(0, Keyed::len)
    }

    /// Forgets keys whose limit has fully recovered.
    pub fn sweep(&self) {
        self.anonymous.as_ref().map(Keyed::sweep);
        self.user.as_ref().map(Keyed::sweep);
        self.login.as_ref().map(Keyed::sweep);
        self.payments.as_ref().map(Keyed::sweep);
    }

    /// Sweeps every minute until `stop`.
    pub async fn sweep_until(self: Arc<Self>, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(SWEEP_INTERVAL);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticker.tick() => self.sweep(),
            }
        }
    }
}

fn check<K: Hash + Eq + Clone>(
    limiter: Option<&Keyed<K>>,
    key: &K,
    n: u32,
) -> Result<(), AppError> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter.take(key, n).map_err(|wait| {
        metrics::counter!(crate::telemetry::stages::RATE_LIMITED_TOTAL).increment(1);
        // Whole seconds, rounded up: a client that waits the hint is admitted.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        AppError::RateLimited {
            retry_after: Some(Duration::from_secs(seconds.max(1))),
        }
    })
}

/// The key an address is counted under: IPv6 clients usually hold a whole /64, so it counts as
/// one client rather than 2^64.
fn bucket_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u32, burst: u32) -> Arc<InboundLimits> {
        let quota = Some(Quota {
            per_minute: NonZeroU32::new(per_minute).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        });
        InboundLimits::new(&RateLimits {
            anonymous: quota,
            user: quota,
            login: quota,
            payments: quota,
            trusted_proxies: Vec::new(),
        })
    }

    #[test]
    fn a_burst_passes_then_the_client_waits_and_others_do_not() {
        let limits = limits(60, 3);
        let hostile: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..3 {
            limits.anonymous(hostile).unwrap();
        }
        let err = limits.anonymous(hostile).unwrap_err();
        let wait = err.retry_after().unwrap();
        assert!(
            wait >= Duration::from_secs(1) && wait <= Duration::from_secs(2),
            "{wait:?}"
        );
        limits.anonymous("203.0.113.8".parse().unwrap()).unwrap();
    }

    #[test]
    fn an_ipv6_client_cannot_escape_by_rotating_its_interface_id() {
        let limits = limits(60, 1);
        limits.anonymous("2001:db8::1".parse().unwrap()).unwrap();
        assert!(limits.anonymous("2001:db8::2".parse().unwrap()).is_err());
        limits
            .anonymous("2001:db8:0:1::1".parse().unwrap())
            .unwrap();
    }

    #[test]
    fn more_at_once_than_the_burst_is_refused() {
        let limits = limits(60, 5);
        let user = Uuid::new_v4();
        assert!(limits.payments(user, 6).is_err());
        limits.payments(user, 5).unwrap();
        assert!(limits.payments(user, 1).is_err());
    }
}

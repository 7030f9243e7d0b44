//! Abuse limits: inbound request rates, client addresses behind proxies, WebSocket caps and
//! data retention. docs/security.md lists each with its default.

use std::num::NonZeroU32;
use std::time::Duration;

use super::parse::parse_number;
use super::{ConfigError, Settings};
use crate::limits::{Cidr, Quota, RateLimits, SocketLimits};

/// Reads the rate limits and trusted proxies.
pub fn parse_rate_limits(s: &Settings) -> Result<RateLimits, ConfigError> {
    let mut trusted_proxies = Vec::new();
    for entry in s
        .trusted_proxies
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        trusted_proxies.push(Cidr::parse(entry).ok_or_else(|| {
            ConfigError::new(
                "TRUSTED_PROXIES",
                format!("{entry:?} is not an address or CIDR; use e.g. 10.0.0.0/8,192.168.1.7"),
            )
        })?);
    }
    Ok(RateLimits {
        anonymous: quota(
            "RATE_LIMIT_ANONYMOUS",
            &s.rate_limit_anonymous_per_minute,
            &s.rate_limit_anonymous_burst,
        )?,
        user: quota(
            "RATE_LIMIT_USER",
            &s.rate_limit_user_per_minute,
            &s.rate_limit_user_burst,
        )?,
        login: quota(
            "RATE_LIMIT_LOGIN",
            &s.rate_limit_login_per_minute,
            &s.rate_limit_login_burst,
        )?,
        payments: quota(
            "RATE_LIMIT_PAYMENTS",
            &s.rate_limit_payments_per_minute,
            &s.rate_limit_payments_burst,
        )?,
        trusted_proxies,
    })
}

fn quota(prefix: &str, per_minute: &str, burst: &str) -> Result<Option<Quota>, ConfigError> {
    let per_minute: u32 = parse_number(&format!("{prefix}_PER_MINUTE"), per_minute, 0..=1_000_000)?;
    let burst: u32 = parse_number(&format!("{prefix}_BURST"), burst, 1..=1_000_000)?;
    Ok(NonZeroU32::new(per_minute).map(|per_minute| Quota {
        per_minute,
        burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
    }))
}

/// Reads the WebSocket caps.
pub fn parse_socket_limits(s: &Settings) -> Result<SocketLimits, ConfigError> {
    Ok(SocketLimits {
        init_timeout: Duration::from_secs(parse_number(
            "WS_INIT_TIMEOUT_SECONDS",
            &s.ws_init_timeout_seconds,
            1..=600,
        )?),
        ping_interval: Duration::from_secs(parse_number(
            "WS_PING_INTERVAL_SECONDS",
            &s.ws_ping_interval_seconds,
            1..=3600,
        )?),
        max_subscriptions_per_socket: parse_number(
            "WS_MAX_SUBSCRIPTIONS_PER_SOCKET",
            &s.ws_max_subscriptions_per_socket,
            1..=100_000,
        )?,
        max_sockets_per_user: parse_number(
            "WS_MAX_SOCKETS_PER_USER",
            &s.ws_max_sockets_per_user,
            1..=1_000_000,
        )?,
        max_sockets_per_ip: parse_number(
            "WS_MAX_SOCKETS_PER_IP",
            &s.ws_max_sockets_per_ip,
            1..=1_000_000,
        )?,
        max_connections: parse_number("WS_MAX_CONNECTIONS", &s.ws_max_connections, 1..=10_000_000)?,
    })
}

//! The settings of the inbound limits, as the configuration fills them in.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// A rate: `per_minute` steady, with bursts of up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests per minute allowed in steady state.
    pub per_minute: NonZeroU32,
    /// Requests allowed at once before the steady pace applies.
    pub burst: NonZeroU32,
}

/// Inbound request rates; `None` turns a limit off.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Per client address, for callers that are not signed in.
    pub anonymous: Option<Quota>,
    /// Per signed-in user, every operation.
    pub user: Option<Quota>,
    /// Per client address, the login operations and callbacks.
    pub login: Option<Quota>,
    /// Per user, the payment mutations (each spends the shared provider budget).
    pub payments: Option<Quota>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<Cidr>,
}

/// WebSocket caps.
#[derive(Debug, Clone)]
pub struct SocketLimits {
    /// Time a socket has to send `connection_init`.
    pub init_timeout: Duration,
    /// Time between keepalive pings; two silent intervals close the socket.
    pub ping_interval: Duration,
    /// Operations running at once on one socket.
    pub max_subscriptions_per_socket: usize,
    /// Sockets per signed-in user.
    pub max_sockets_per_user: usize,
    /// Sockets per client address.
    pub max_sockets_per_ip: usize,
    /// Sockets in all.
    pub max_connections: usize,
}

/// A network in CIDR notation, e.g. `10.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDRESS/PREFIX`, or a bare address (a single host).
    pub fn parse(raw: &str) -> Option<Cidr> {
        let (address, prefix) = match raw.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (raw, None),
        };
        let network: IpAddr = address.trim().parse().ok()?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.trim().parse().ok().filter(|p| *p <= width)?,
            None => width,
        };
        Some(Cidr { network, prefix })
    }

    /// True when `address` lies in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_match_their_networks_only() {
        let private = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(private.contains("10.1.2.3".parse().unwrap()));
        assert!(private.contains("::ffff:10.9.9.9".parse().unwrap()));
        assert!(!private.contains("11.0.0.1".parse().unwrap()));
        let host = Cidr::parse("192.168.1.7").unwrap();
        assert!(host.contains("192.168.1.7".parse().unwrap()));
        assert!(!host.contains("192.168.1.8".parse().unwrap()));
        let any = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(any.contains("8.8.8.8".parse().unwrap()));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }
}

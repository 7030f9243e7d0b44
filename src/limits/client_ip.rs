//! The client's address: the TCP peer, or, when the peer is a trusted proxy, the nearest
//! untrusted address its `X-Forwarded-For` names. A header from anyone else is ignored, so a
//! client cannot pick the address it is counted under.

use std::net::IpAddr;

use axum::http::HeaderMap;

use super::Cidr;

/// The address requests are counted under, set by the HTTP layer on every request and WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

/// Finds the client behind `peer`.
///
/// `X-Forwarded-For` lists the client first and each proxy appends the address it heard from,
/// so only the right end is written by our own proxies: walk from the right past trusted hops
/// and stop at the first address a trusted proxy did not vouch for.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> ClientIp {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|cidr| cidr.contains(ip));
    if !is_trusted(peer) {
        return ClientIp(peer.to_canonical());
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|hop| hop.trim().parse::<IpAddr>())
        .collect::<Result<_, _>>()
        // A garbled list cannot be walked safely: count the proxy itself.
        .unwrap_or_default();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        client = hop;
        if !is_trusted(hop) {
            break;
        }
    }
    ClientIp(client.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().unwrap());
        headers
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        // A direct client cannot choose its address.
        assert_eq!(
            resolve(ip("198.51.100.1"), &headers("1.2.3.4"), &trusted).0,
            ip("198.51.100.1")
        );
        // Behind our proxy: the address the proxy heard from.
        assert_eq!(
            resolve(ip("10.0.0.5"), &headers("1.2.3.4, 198.51.100.9"), &trusted).0,
            ip("198.51.100.9")
        );
        // Two trusted hops are skipped; a spoofed left part is not reached.
        assert_eq!(
            resolve(
                ip("10.0.0.5"),
                &headers("6.6.6.6, 198.51.100.9, 10.0.0.6"),
                &trusted
            )
            .0,
            ip("198.51.100.9")
        );
        // Without trusted proxies the header is ignored.
        assert_eq!(
            resolve(ip("10.0.0.5"), &headers("1.2.3.4"), &[]).0,
            ip("10.0.0.5")
        );
        // Garbage is not walked.
        assert_eq!(
            resolve(ip("10.0.0.5"), &headers("1.2.3.4, nonsense"), &trusted).0,
            ip("10.0.0.5")
        );
    }
}

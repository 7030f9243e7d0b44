//! Caps on open WebSockets: in all, per client address and per signed-in user. A socket holds a
//! [`SocketSlot`] for its whole life; dropping the slot gives the place back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::SocketLimits;
use crate::sync::lock;

/// Why a socket was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketRefusal {
    /// The server holds as many sockets as it may.
    ServerFull,
    /// This client address holds as many sockets as it may.
    TooManyFromAddress,
    /// This user holds as many sockets as they may.
    TooManyForUser,
}

impl SocketRefusal {
    /// The close reason sent to the client.
    pub fn reason(self) -> &'static str {
        match self {
            SocketRefusal::ServerFull => "the server is at its connection limit; try again later",
            SocketRefusal::TooManyFromAddress => "too many connections from this address",
            SocketRefusal::TooManyForUser => "too many connections for this user",
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    per_user: HashMap<Uuid, usize>,
}

/// The open-socket counters of one server process.
pub struct SocketCounters {
    limits: SocketLimits,
    counts: Mutex<Counts>,
}

impl SocketCounters {
    /// Counters enforcing `limits`.
    pub fn new(limits: SocketLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            counts: Mutex::default(),
        })
    }

    /// The configured caps.
    pub fn limits(&self) -> &SocketLimits {
        &self.limits
    }

    /// Sockets open now.
    pub fn open_sockets(&self) -> usize {
        lock(&self.counts).total
    }

    /// Takes a place for a new socket from `ip`, or refuses it.
    pub fn open(self: &Arc<Self>, ip: IpAddr) -> Result<SocketSlot, SocketRefusal> {
        let mut counts = lock(&self.counts);
        if counts.total >= self.limits.max_connections {
            return Err(SocketRefusal::ServerFull);
        }
        let from_ip = counts.per_ip.entry(ip).or_default();
        if *from_ip >= self.limits.max_sockets_per_ip {
            return Err(SocketRefusal::TooManyFromAddress);
        }
        *from_ip += 1;
        counts.total += 1;
        Ok(SocketSlot {
            counters: self.clone(),
            ip,
            user: Mutex::new(None),
        })
    }
}

/// A socket's place in the counters.
pub struct SocketSlot {
    counters: Arc<SocketCounters>,
    ip: IpAddr,
    user: Mutex<Option<Uuid>>,
}

impl SocketSlot {
    /// Counts this socket against `user` once it has signed in, or refuses it.
    pub fn sign_in(&self, user: Uuid) -> Result<(), SocketRefusal> {
        let mut current = lock(&self.user);
        if current.is_some() {
            return Ok(());
        }
        let mut counts = lock(&self.counters.counts);
        let for_user = counts.per_user.entry(user).or_default();
        if *for_user >= self.counters.limits.max_sockets_per_user {
            return Err(SocketRefusal::TooManyForUser);
        }
        *for_user += 1;
        *current = Some(user);
        Ok(())
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let user = *lock(&self.user);
        let mut counts = lock(&self.counters.counts);
        counts.total -= 1;
        decrement(&mut counts.per_ip, self.ip);
        if let Some(user) = user {
            decrement(&mut counts.per_user, user);
        }
    }
}

/// Lowers a count, forgetting the key at zero so the map holds open sockets only.
fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: K) {
    if let std::collections::hash_map::Entry::Occupied(mut entry) = map.entry(key) {
        *entry.get_mut() -= 1;
        if *entry.get() == 0 {
            entry.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn counters(total: usize, per_ip: usize, per_user: usize) -> Arc<SocketCounters> {
        SocketCounters::new(SocketLimits {
            init_timeout: Duration::from_secs(1),
            ping_interval: Duration::from_secs(1),
            max_subscriptions_per_socket: 1,
            max_sockets_per_user: per_user,
            max_sockets_per_ip: per_ip,
            max_connections: total,
        })
    }

    #[test]
    fn caps_hold_and_closing_gives_places_back() {
        let counters = counters(3, 2, 1);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = counters.open(a).unwrap();
        let second = counters.open(a).unwrap();
        assert_eq!(
            counters.open(a).err(),
            Some(SocketRefusal::TooManyFromAddress)
        );
        let third = counters.open(b).unwrap();
        assert_eq!(counters.open(b).err(), Some(SocketRefusal::ServerFull));
        let user = Uuid::new_v4();
        first.sign_in(user).unwrap();
        assert_eq!(second.sign_in(user), Err(SocketRefusal::TooManyForUser));
        drop(first);
        second.sign_in(user).unwrap();
        drop((second, third));
        assert_eq!(counters.open_sockets(), 0);
        let counts = lock(&counters.counts);
        assert!(counts.per_ip.is_empty() && counts.per_user.is_empty());
    }
}

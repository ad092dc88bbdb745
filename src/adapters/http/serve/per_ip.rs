//! The per-address cap on open TCP connections (`SERVER_MAX_CONNECTIONS_PER_IP`).
//!
//! A slot is taken at accept and travels with the socket, so a connection upgraded to WebSocket keeps
//! holding it after its HTTP task has ended. IPv6 clients are counted per /64: one subscriber usually
//! has a whole /64, so counting single addresses would cap nothing. Trusted proxies are exempt —
//! behind one, every client shares its address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use parking_lot::Mutex;

pub struct PerIpLimit {
    max: usize,
    exempt: Vec<IpNet>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection counted against its address; dropping it gives the slot back.
pub struct IpSlot {
    limit: Arc<PerIpLimit>,
    key: IpAddr,
}

/// The address is at its cap.
#[derive(Debug)]
pub struct OverLimit;

impl PerIpLimit {
    /// `max` of 0 means unlimited.
    pub fn new(max: usize, exempt: Vec<IpNet>) -> Arc<Self> {
        Arc::new(Self { max, exempt, open: Mutex::new(HashMap::new()) })
    }

    /// Counts a new connection from `ip`; `Ok(None)` when it is not counted at all.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Option<IpSlot>, OverLimit> {
        let ip = ip.to_canonical();
        if self.max == 0 || self.exempt.iter().any(|net| net.contains(&ip)) {
            return Ok(None);
        }
        let key = match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::MAX >> 64))),
        };
        let mut open = self.open.lock();
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return Err(OverLimit);
        }
        *count += 1;
        Ok(Some(IpSlot { limit: self.clone(), key }))
    }

    #[cfg(test)]
    fn open_from(&self, key: IpAddr) -> usize {
        self.open.lock().get(&key).copied().unwrap_or(0)
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.limit.open.lock();
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn caps_each_address_and_gives_slots_back() {
        let limit = PerIpLimit::new(2, vec![]);
        let a = limit.acquire(ip("10.0.0.1")).unwrap();
        let _b = limit.acquire(ip("::ffff:10.0.0.1")).unwrap();
        assert!(limit.acquire(ip("10.0.0.1")).is_err(), "v4-mapped addresses count as the same client");
        assert!(limit.acquire(ip("10.0.0.2")).unwrap().is_some(), "other addresses are not affected");
        drop(a);
        assert!(limit.acquire(ip("10.0.0.1")).is_ok());
        drop(limit.acquire(ip("10.0.0.3")));
        assert_eq!(limit.open_from(ip("10.0.0.3")), 0);
        assert_eq!(limit.open.lock().len(), 1, "addresses with no connection are forgotten");
    }

    #[test]
    fn counts_ipv6_per_64() {
        let limit = PerIpLimit::new(1, vec![]);
        let _a = limit.acquire(ip("2001:db8:1:2::1")).unwrap();
        assert!(limit.acquire(ip("2001:db8:1:2:ffff::9")).is_err());
        assert!(limit.acquire(ip("2001:db8:1:3::1")).is_ok());
    }

    #[test]
    fn zero_and_trusted_proxies_are_unlimited() {
        let off = PerIpLimit::new(0, vec![]);
        assert!((0..10).all(|_| off.acquire(ip("10.0.0.1")).unwrap().is_none()));
        let limit = PerIpLimit::new(1, vec!["10.0.0.0/8".parse().unwrap()]);
        let held: Vec<_> = (0..5).map(|_| limit.acquire(ip("10.1.2.3")).unwrap()).collect();
        assert!(held.iter().all(Option::is_none));
    }
}

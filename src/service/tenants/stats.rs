//! Per-tenant counters, kept by the service as it sends: notifications accepted in all and today
//! (UTC), on this node. In cluster mode presence carries them to the other nodes.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use dashmap::DashMap;

use crate::domain::TenantId;

#[derive(Default)]
struct Counters {
    total: AtomicU64,
    /// The UTC day `today` counts (days since the epoch).
    day: AtomicI64,
    today: AtomicU64,
    /// Counted since cluster presence last took the figures.
    changed: AtomicBool,
}

#[derive(Default)]
pub struct TenantStats {
    tenants: DashMap<TenantId, Counters>,
}

pub fn day_of(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(86_400)
}

impl TenantStats {
    pub fn record_message(&self, tenant: &TenantId, now: DateTime<Utc>) {
        let day = day_of(now);
        let counters = self.tenants.entry(tenant.clone()).or_default();
        counters.total.fetch_add(1, Ordering::Relaxed);
        // The first message of a new day starts its count; a message racing it across midnight may be
        // counted on either day.
        if counters.day.swap(day, Ordering::AcqRel) != day {
            counters.today.store(0, Ordering::Release);
        }
        counters.today.fetch_add(1, Ordering::Relaxed);
        counters.changed.store(true, Ordering::Release);
    }

    /// The tenants that sent since the last call.
    pub fn take_changed(&self) -> Vec<TenantId> {
        self.tenants
            .iter()
            .filter(|e| e.value().changed.swap(false, Ordering::AcqRel))
            .map(|e| e.key().clone())
            .collect()
    }

    /// (messages in all, messages today) on this node.
    pub fn messages(&self, tenant: &TenantId, now: DateTime<Utc>) -> (u64, u64) {
        match self.tenants.get(tenant) {
            None => (0, 0),
            Some(c) => {
                let today =
                    if c.day.load(Ordering::Acquire) == day_of(now) { c.today.load(Ordering::Relaxed) } else { 0 };
                (c.total.load(Ordering::Relaxed), today)
            }
        }
    }

    /// Messages in all, per tenant.
    pub fn totals(&self) -> Vec<(TenantId, u64)> {
        self.tenants.iter().map(|e| (e.key().clone(), e.value().total.load(Ordering::Relaxed))).collect()
    }

    pub fn forget(&self, tenant: &TenantId) {
        self.tenants.remove(tenant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_restarts_at_midnight() {
        let stats = TenantStats::default();
        let t = TenantId::parse("a").unwrap();
        let day1 = DateTime::from_timestamp(86_400 * 10 + 5, 0).unwrap();
        stats.record_message(&t, day1);
        stats.record_message(&t, day1);
        assert_eq!(stats.messages(&t, day1), (2, 2));
        let day2 = DateTime::from_timestamp(86_400 * 11 + 1, 0).unwrap();
        assert_eq!(stats.messages(&t, day2), (2, 0));
        stats.record_message(&t, day2);
        assert_eq!(stats.messages(&t, day2), (3, 1));
    }

    #[test]
    fn changed_tenants_are_taken_once() {
        let stats = TenantStats::default();
        let (a, b) = (TenantId::parse("a").unwrap(), TenantId::parse("b").unwrap());
        let now = DateTime::from_timestamp(86_400 * 10, 0).unwrap();
        stats.record_message(&a, now);
        stats.record_message(&b, now);
        let mut changed = stats.take_changed();
        changed.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        assert_eq!(changed, vec![a.clone(), b]);
        assert!(stats.take_changed().is_empty());
        stats.record_message(&a, now);
        assert_eq!(stats.take_changed(), vec![a]);
    }
}

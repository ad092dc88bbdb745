//! Per-tenant counters, kept by the service as it sends: notifications accepted in all and today
//! (UTC), on this node.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use dashmap::DashMap;

use crate::domain::TenantId;

#[derive(Default)]
struct Counters {
    total: AtomicU64,
    /// The UTC day `today` counts (days since the epoch).
    day: AtomicI64,
    today: AtomicU64,
}

#[derive(Default)]
pub struct TenantStats {
    tenants: DashMap<TenantId, Counters>,
}

fn day_of(now: DateTime<Utc>) -> i64 {
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
}

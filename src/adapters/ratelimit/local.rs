//! The in-process rate limiter: one `governor` keyed GCRA limiter per quota, keys in a sharded map.
//!
//! Budgets are per node: with several nodes behind a load balancer a client gets roughly the limit
//! times the number of nodes. Keys whose budget is full again are dropped by [`LocalRateLimiter::cleanup`],
//! which [`LocalRateLimiter::spawn_cleanup`] runs periodically.

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;

use crate::ports::{Decision, Quota, RateLimitError, RateLimiter};

type KeyedLimiter =
    governor::RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

#[derive(Default)]
pub struct LocalRateLimiter {
    limiters: DashMap<Quota, Arc<KeyedLimiter>>,
}

impl LocalRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    fn limiter(&self, quota: &Quota) -> Arc<KeyedLimiter> {
        if let Some(limiter) = self.limiters.get(quota) {
            return limiter.clone();
        }
        self.limiters
            .entry(*quota)
            .or_insert_with(|| {
                let q = governor::Quota::with_period(quota.interval)
                    .unwrap_or_else(|| governor::Quota::per_second(quota.burst))
                    .allow_burst(quota.burst);
                Arc::new(governor::RateLimiter::keyed(q).with_middleware::<StateInformationMiddleware>())
            })
            .clone()
    }

    /// Forgets keys whose budget is full again (they behave exactly like unseen keys).
    pub fn cleanup(&self) {
        for limiter in self.limiters.iter() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Keys currently remembered, over all quotas.
    pub fn tracked_keys(&self) -> usize {
        self.limiters.iter().map(|l| l.len()).sum()
    }

    /// Runs [`Self::cleanup`] every `every` for as long as the limiter lives.
    pub fn spawn_cleanup(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let me: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(this) = me.upgrade() else { return };
                this.cleanup();
            }
        })
    }

    /// The synchronous check, for callers that need no backend.
    pub fn check_now(&self, quota: &Quota, key: &str) -> Decision {
        let limiter = self.limiter(quota);
        let burst = quota.burst.get();
        match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity().min(burst - 1);
                Decision {
                    allowed: true,
                    limit: burst,
                    remaining,
                    reset_after: quota.interval * (burst - remaining),
                    retry_after: Duration::ZERO,
                }
            }
            Err(not_until) => {
                let retry_after = not_until.wait_time_from(limiter.clock().now());
                Decision {
                    allowed: false,
                    limit: burst,
                    remaining: 0,
                    reset_after: retry_after + quota.interval * (burst - 1),
                    retry_after,
                }
            }
        }
    }
}

#[async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn check(&self, quota: &Quota, key: &str) -> Result<Decision, RateLimitError> {
        Ok(self.check_now(quota, key))
    }

    async fn check_health(&self) -> Result<(), RateLimitError> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "local"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_forgets_full_budgets() {
        let limiter = LocalRateLimiter::new();
        let quota = Quota::per_second(1000, 2).unwrap();
        limiter.check_now(&quota, "a");
        assert_eq!(limiter.tracked_keys(), 1);
        std::thread::sleep(Duration::from_millis(10));
        limiter.cleanup();
        assert_eq!(limiter.tracked_keys(), 0);
    }
}

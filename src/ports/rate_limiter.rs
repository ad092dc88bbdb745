//! Rate limiting: "may this key do one more thing now?", answered by a shared or a local budget.
//!
//! The algorithm is GCRA (a token bucket without a refill timer): a [`Quota`] allows `burst` actions
//! at once and gives one back every `interval`. Every adapter implements the same arithmetic, so a
//! decision does not depend on which backend made it.
//!
//! Contract (checked by `tests/contracts/rate_limiter.rs` against every adapter):
//! - a fresh key is allowed exactly `burst` times in a row; the next check is denied with a
//!   `retry_after` of at most one `interval`;
//! - `remaining` counts the further actions allowed right now: `burst - 1` after the first, 0 when
//!   denied;
//! - one action is given back every `interval`: after waiting `retry_after`, a check is allowed again;
//! - keys are independent, and the same key under two different quotas is two budgets;
//! - check-and-update is atomic: `n` concurrent checks on an exhausted-to-`k` budget allow exactly `k`;
//! - a denied check does not consume budget.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

/// A budget: `burst` actions at once, one more every `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    pub burst: NonZeroU32,
    pub interval: Duration,
}

impl Quota {
    /// `per_second` actions a second on average, up to `burst` at once. `None` when a number is 0.
    pub fn per_second(per_second: u32, burst: u32) -> Option<Self> {
        let burst = NonZeroU32::new(burst)?;
        let interval = Duration::from_secs(1).checked_div(per_second)?;
        (!interval.is_zero()).then_some(Self { burst, interval })
    }

    /// `per_minute` actions a minute, all of which may come at once. `None` when it is 0.
    pub fn per_minute(per_minute: u32) -> Option<Self> {
        let burst = NonZeroU32::new(per_minute)?;
        Some(Self { burst, interval: Duration::from_secs(60) / per_minute })
    }

    /// How long an empty budget takes to fill up again.
    pub fn refill_time(&self) -> Duration {
        self.interval * self.burst.get()
    }
}

/// The answer to one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The quota's burst: what `X-RateLimit-Limit` reports.
    pub limit: u32,
    /// Further actions allowed right now.
    pub remaining: u32,
    /// Time until the budget is full again.
    pub reset_after: Duration,
    /// When denied: time until one action is allowed. Zero when allowed.
    pub retry_after: Duration,
}

#[derive(Debug, Error)]
pub enum RateLimitError {
    /// MUST be returned when the backend cannot be reached (or its circuit breaker is open); the
    /// caller decides whether to fall back.
    #[error("rate limiter backend is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend answered something the adapter cannot read.
    #[error("rate limiter backend failed unexpectedly: {0}")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one action of `key` against `quota` if the budget allows it.
    ///
    /// # Errors
    /// [`RateLimitError::Unavailable`] when the backend cannot answer; nothing was counted.
    async fn check(&self, quota: &Quota, key: &str) -> Result<Decision, RateLimitError>;

    /// Ok when checks are answered by this limiter's own backend (a fallback in use is an error).
    async fn check_health(&self) -> Result<(), RateLimitError>;

    /// The backend's name for `/health` and `/stats` (`local`, `redis`).
    fn backend(&self) -> &'static str;
}

pub type DynRateLimiter = Arc<dyn RateLimiter>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_from_settings() {
        let q = Quota::per_second(100, 200).unwrap();
        assert_eq!((q.burst.get(), q.interval), (200, Duration::from_millis(10)));
        assert_eq!(q.refill_time(), Duration::from_secs(2));
        let q = Quota::per_minute(10).unwrap();
        assert_eq!((q.burst.get(), q.interval), (10, Duration::from_secs(6)));
        assert!(Quota::per_second(0, 1).is_none() && Quota::per_second(1, 0).is_none());
        assert!(Quota::per_minute(0).is_none());
    }
}

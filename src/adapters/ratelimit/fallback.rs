//! A limiter that asks a primary (Redis) and, when the primary cannot answer, a fallback (local).
//!
//! During an outage every node keeps limiting with its own budgets (roughly the limit times the
//! number of nodes) instead of refusing every request or letting everything through. The switch is
//! logged once per outage, and once when the primary answers again; `/health` shows it through
//! `check_health` and `/stats` through [`FallbackRateLimiter::stats`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use serde::Serialize;

use crate::ports::{Decision, DynRateLimiter, Quota, RateLimitError, RateLimiter};

pub struct FallbackRateLimiter {
    primary: DynRateLimiter,
    fallback: DynRateLimiter,
    on_fallback: AtomicBool,
    outages: AtomicU64,
    fallback_checks: AtomicU64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FallbackStats {
    /// True while checks are answered by the fallback.
    pub on_fallback: bool,
    /// Times the primary became unreachable.
    pub outages: u64,
    /// Checks answered by the fallback.
    pub fallback_checks: u64,
}

impl FallbackRateLimiter {
    pub fn new(primary: DynRateLimiter, fallback: DynRateLimiter) -> Self {
        Self {
            primary,
            fallback,
            on_fallback: AtomicBool::new(false),
            outages: AtomicU64::new(0),
            fallback_checks: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> FallbackStats {
        FallbackStats {
            on_fallback: self.on_fallback.load(Ordering::Relaxed),
            outages: self.outages.load(Ordering::Relaxed),
            fallback_checks: self.fallback_checks.load(Ordering::Relaxed),
        }
    }
}

#[async_trait]
impl RateLimiter for FallbackRateLimiter {
    async fn check(&self, quota: &Quota, key: &str) -> Result<Decision, RateLimitError> {
        match self.primary.check(quota, key).await {
            Ok(decision) => {
                if self.on_fallback.swap(false, Ordering::Relaxed) {
                    tracing::info!(backend = self.primary.backend(), "rate limiter is back on its primary backend");
                }
                Ok(decision)
            }
            Err(e) => {
                if !self.on_fallback.swap(true, Ordering::Relaxed) {
                    self.outages.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        error = %crate::domain::ErrorChain(&e),
                        primary = self.primary.backend(),
                        fallback = self.fallback.backend(),
                        "rate limiter primary unavailable; limiting with per-node budgets until it returns"
                    );
                }
                self.fallback_checks.fetch_add(1, Ordering::Relaxed);
                self.fallback.check(quota, key).await
            }
        }
    }

    async fn check_health(&self) -> Result<(), RateLimitError> {
        self.primary.check_health().await
    }

    fn backend(&self) -> &'static str {
        self.primary.backend()
    }
}

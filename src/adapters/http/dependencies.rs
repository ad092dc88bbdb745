//! What `/health` and `/stats` say about Redis (the shared connection and its circuit breaker), the
//! Pub/Sub trigger and the rate limiter.
//!
//! Each dependency is `healthy`, `degraded` (working, but on a fallback or half-recovered) or `down`.
//! None of them stops Ara delivering to local connections, so none of them turns `/health` into a
//! 503: they make the overall status `degraded`.
//!
//! `/health` must answer promptly whatever is down (load balancers and orchestrators time it out), so
//! every probe runs concurrently and is given at most [`PROBE_TIMEOUT`]; one that has not answered by
//! then counts as failed.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::state::AppState;
use crate::adapters::ratelimit::FallbackStats;
use crate::adapters::redis::breaker::BreakerState;
use crate::adapters::redis::pubsub::{PubSubStats, PubSubStatus};
use crate::adapters::redis::{ConnectionStats, ResilientRedis};

/// The Redis-side handles the HTTP layer reports on; empty when nothing uses the shared connection.
#[derive(Clone, Default)]
pub struct RedisHandles {
    pub connection: Option<Arc<ResilientRedis>>,
    pub pubsub: Option<Arc<PubSubStatus>>,
}

#[derive(Debug, Serialize)]
pub struct RedisHealth {
    status: &'static str,
    breaker: BreakerState,
}

#[derive(Debug, Serialize)]
pub struct PubSubHealth {
    status: &'static str,
    subscribed: bool,
}

#[derive(Debug, Serialize)]
pub struct RateLimiterHealth {
    status: &'static str,
    backend: &'static str,
    /// True while a Redis limiter answers with the local fallback.
    fallback: bool,
}

/// The `/health` entries this module owns, plus whether any of them is not healthy.
#[derive(Debug, Default, Serialize)]
pub struct HealthEntries {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisHealth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pubsub: Option<PubSubHealth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limiter: Option<RateLimiterHealth>,
    #[serde(skip)]
    pub degraded: bool,
}

/// How long one dependency probe may take before `/health` reports it as failed; well under the
/// one second `/health` answers in.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(750);

/// Whether `check` succeeded within [`PROBE_TIMEOUT`]. A probe still running then is dropped.
pub async fn probe<E>(check: impl Future<Output = Result<(), E>>) -> bool {
    matches!(tokio::time::timeout(PROBE_TIMEOUT, check).await, Ok(Ok(())))
}

/// [`probe`] for a call through the Redis circuit breaker: it runs on a task of its own (already
/// bounded by `REDIS_TIMEOUT_MS`), so that when `/health` stops waiting the call still finishes and
/// the breaker records it, instead of holding a half-open probe slot for a caller that vanished.
async fn probe_detached<E: Send + 'static>(check: impl Future<Output = Result<(), E>> + Send + 'static) -> bool {
    let task = tokio::spawn(check);
    matches!(tokio::time::timeout(PROBE_TIMEOUT, task).await, Ok(Ok(Ok(()))))
}

pub async fn health(state: &AppState) -> HealthEntries {
    let mut entries = HealthEntries::default();
    let redis_probe = state.redis.connection.clone().map(|redis| async move { redis.ping().await });
    let limiter_probe = state.rate_limit.as_ref().map(|policy| {
        let limiter = policy.limiter.clone();
        async move { limiter.check_health().await }
    });
    let (redis_answered, limiter_answered) = tokio::join!(
        async {
            match redis_probe {
                Some(ping) => Some(probe_detached(ping).await),
                None => None,
            }
        },
        async {
            match limiter_probe {
                Some(check) => Some(probe_detached(check).await),
                None => None,
            }
        },
    );
    if let (Some(redis), Some(answered)) = (&state.redis.connection, redis_answered) {
        // A PING through the breaker: fails at once while it is open.
        let breaker = redis.breaker_state();
        let status = match (answered, breaker) {
            (true, BreakerState::Closed) => "healthy",
            (true, _) => "degraded",
            (false, _) => "down",
        };
        entries.redis = Some(RedisHealth { status, breaker });
    }
    if let Some(pubsub) = &state.redis.pubsub {
        let subscribed = pubsub.is_subscribed();
        entries.pubsub = Some(PubSubHealth { status: if subscribed { "healthy" } else { "down" }, subscribed });
    }
    if let (Some(policy), Some(answered)) = (&state.rate_limit, limiter_answered) {
        // A limiter whose own backend does not answer is answering with its fallback.
        let fallback = !answered;
        entries.rate_limiter = Some(RateLimiterHealth {
            status: if fallback { "degraded" } else { "healthy" },
            backend: policy.limiter.backend(),
            fallback,
        });
    }
    entries.degraded = entries.redis.as_ref().is_some_and(|r| r.status != "healthy")
        || entries.pubsub.as_ref().is_some_and(|p| !p.subscribed)
        || entries.rate_limiter.as_ref().is_some_and(|r| r.fallback);
    entries
}

#[derive(Debug, Serialize)]
pub struct RateLimiterStats {
    backend: &'static str,
    rejected: u64,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    fallback: Option<FallbackStats>,
}

/// The `/stats` entries this module owns.
#[derive(Debug, Default, Serialize)]
pub struct StatsEntries {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<ConnectionStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pubsub: Option<PubSubStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limiter: Option<RateLimiterStats>,
}

pub fn stats(state: &AppState) -> StatsEntries {
    StatsEntries {
        redis: state.redis.connection.as_ref().map(|r| r.stats()),
        pubsub: state.redis.pubsub.as_ref().map(|p| p.stats()),
        rate_limiter: state.rate_limit.as_ref().map(|p| RateLimiterStats {
            backend: p.limiter.backend(),
            rejected: p.rejected.load(Ordering::Relaxed),
            fallback: p.fallback.as_ref().map(|f| f.stats()),
        }),
    }
}

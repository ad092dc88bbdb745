//! The `RateLimiter` contract (see `src/ports/rate_limiter.rs`), run against every adapter: local
//! (governor), Redis (the Lua script, via the shared connection with its breaker), and the fallback
//! wrapper while its Redis is unreachable (it must then behave exactly like the local limiter).
//!
//! Redis reads `ARA_TEST_REDIS_URL` (default the local server) and isolates each test with its own
//! key prefix; an unreachable Redis fails the Redis suite unless `ARA_SKIP_BACKEND_TESTS=1`.

use std::sync::Arc;

use crate::suite::contract_suite;
use std::time::Duration;

use crate::support_backends::Opened;
use ara::adapters::ratelimit::{FallbackRateLimiter, LocalRateLimiter};
use ara::adapters::redis::breaker::BreakerSettings;
use ara::adapters::redis::{RedisRateLimiter, ResilienceSettings, ResilientRedis};
use ara::ports::{Quota, RateLimiter};
use futures_util::future::join_all;

type Limiter = Opened<dyn RateLimiter>;

trait Backend {
    async fn open() -> Option<Limiter>;
}

struct Local;
struct Redis;
struct RedisCluster;
struct FallbackDuringOutage;

fn resilience() -> ResilienceSettings {
    ResilienceSettings {
        breaker: BreakerSettings { failure_threshold: 3, success_threshold: 1, open_duration: Duration::from_secs(30) },
        timeout: Duration::from_millis(500),
        reconnect_min_delay: Duration::from_millis(100),
        reconnect_max_delay: Duration::from_secs(1),
    }
}

impl Backend for Local {
    async fn open() -> Option<Limiter> {
        Some(Opened::new(Arc::new(LocalRateLimiter::new()), None))
    }
}

impl Backend for Redis {
    async fn open() -> Option<Limiter> {
        let (url, prefix, cleanup) = crate::support_backends::redis_target();
        let redis = ResilientRedis::connect(&url, resilience()).await.expect("ARA_TEST_REDIS_URL is a Redis URL");
        if let Err(e) = redis.ping().await {
            return crate::support_backends::unavailable("Redis", crate::support_backends::REDIS_VARIABLE, e);
        }
        let limiter = RedisRateLimiter::new(redis, &format!("{prefix}:"));
        Some(Opened::new(Arc::new(limiter), Some(cleanup)))
    }
}

impl Backend for RedisCluster {
    async fn open() -> Option<Limiter> {
        let (redis, prefix) = crate::redis_cluster::shared_connection().await?;
        Some(Opened::new(Arc::new(RedisRateLimiter::new(redis, &format!("{prefix}:"))), None))
    }
}

impl Backend for FallbackDuringOutage {
    async fn open() -> Option<Limiter> {
        // A port nothing listens on: every Redis call fails, then the breaker opens.
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let redis = ResilientRedis::connect(&format!("redis://127.0.0.1:{port}"), resilience()).await.ok()?;
        let primary = Arc::new(RedisRateLimiter::new(redis, "unused:"));
        let limiter = FallbackRateLimiter::new(primary, Arc::new(LocalRateLimiter::new()));
        Some(Opened::new(Arc::new(limiter), None))
    }
}

fn quota(burst: u32, interval_ms: u64) -> Quota {
    Quota { burst: burst.try_into().unwrap(), interval: Duration::from_millis(interval_ms) }
}

async fn fresh_key_allows_the_burst_then_denies<B: Backend>() {
    let Some(limiter) = B::open().await else { return };
    let q = quota(5, 1000);
    for expected_remaining in (0..5).rev() {
        let d = limiter.check(&q, "k").await.unwrap();
        assert!(d.allowed);
        assert_eq!((d.limit, d.remaining), (5, expected_remaining));
        assert_eq!(d.retry_after, Duration::ZERO);
        assert!(d.reset_after > Duration::ZERO && d.reset_after <= q.refill_time(), "{:?}", d.reset_after);
    }
    let d = limiter.check(&q, "k").await.unwrap();
    assert!(!d.allowed);
    assert_eq!((d.limit, d.remaining), (5, 0));
    assert!(d.retry_after > Duration::ZERO && d.retry_after <= q.interval, "{:?}", d.retry_after);
    assert!(d.reset_after >= d.retry_after && d.reset_after <= q.refill_time());
}

async fn first_check_reports_one_interval_to_full<B: Backend>() {
    let Some(limiter) = B::open().await else { return };
    let q = quota(10, 2000);
    let d = limiter.check(&q, "k").await.unwrap();
    assert!(d.reset_after > Duration::from_millis(1500) && d.reset_after <= q.interval, "{:?}", d.reset_after);
}

async fn denied_checks_consume_nothing<B: Backend>() {
    let Some(limiter) = B::open().await else { return };
    let q = quota(2, 300);
    limiter.check(&q, "k").await.unwrap();
    limiter.check(&q, "k").await.unwrap();
    let mut wait = Duration::ZERO;
    for _ in 0..5 {
        let d = limiter.check(&q, "k").await.unwrap();
        assert!(!d.allowed);
        wait = d.retry_after;
    }
    tokio::time::sleep(wait + Duration::from_millis(30)).await;
    assert!(limiter.check(&q, "k").await.unwrap().allowed, "one action is back after retry_after");
    assert!(!limiter.check(&q, "k").await.unwrap().allowed, "and only one");
}

async fn budget_refills_over_time<B: Backend>() {
    let Some(limiter) = B::open().await else { return };
    let q = quota(3, 100);
    for _ in 0..3 {
        assert!(limiter.check(&q, "k").await.unwrap().allowed);
    }
    assert!(!limiter.check(&q, "k").await.unwrap().allowed);
    tokio::time::sleep(Duration::from_millis(450)).await;
    for _ in 0..3 {
        assert!(limiter.check(&q, "k").await.unwrap().allowed, "a full burst again");
    }
    assert!(!limiter.check(&q, "k").await.unwrap().allowed, "never more than the burst");
}

async fn keys_and_quotas_are_independent<B: Backend>() {
    let Some(limiter) = B::open().await else { return };
    let (q, other) = (quota(2, 60_000), quota(3, 60_000));
    limiter.check(&q, "a").await.unwrap();
    limiter.check(&q, "a").await.unwrap();
    assert!(!limiter.check(&q, "a").await.unwrap().allowed);
    let b = limiter.check(&q, "b").await.unwrap();
    assert!(b.allowed && b.remaining == 1, "another key has its own budget");
    let a_other = limiter.check(&other, "a").await.unwrap();
    assert!(a_other.allowed && a_other.remaining == 2, "another quota is another budget");
}

async fn concurrent_checks_are_atomic<B: Backend>() {
    let Some(limiter) = B::open().await else { return };
    let q = quota(10, 60_000);
    let limiter: &dyn RateLimiter = &*limiter.store;
    let decisions = join_all((0..40).map(|_| limiter.check(&q, "hot"))).await;
    let allowed = decisions.into_iter().filter(|d| d.as_ref().unwrap().allowed).count();
    assert_eq!(allowed, 10);
}

async fn reports_health<B: Backend>() {
    let Some(limiter) = B::open().await else { return };
    assert!(!limiter.backend().is_empty());
    // The fallback wrapper reports its primary's health: unhealthy during the outage, by design.
    let healthy = limiter.check_health().await.is_ok();
    assert_eq!(healthy, std::any::type_name::<B>() != std::any::type_name::<FallbackDuringOutage>());
}

contract_suite!(
    [
        fresh_key_allows_the_burst_then_denies,
        first_check_reports_one_interval_to_full,
        denied_checks_consume_nothing,
        budget_refills_over_time,
        keys_and_quotas_are_independent,
        concurrent_checks_are_atomic,
        reports_health,
    ] for
    local => Local,
    redis => Redis,
    redis_cluster => RedisCluster,
    fallback_during_outage => FallbackDuringOutage,
);

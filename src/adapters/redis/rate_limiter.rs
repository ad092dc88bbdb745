//! The distributed rate limiter: one GCRA budget per key in Redis, checked and updated by one Lua
//! script (atomic, no read-modify-write race between nodes), timed by the Redis server's clock.
//!
//! Keys are `{prefix}{burst}/{interval_us}:{key}` and expire once their budget is full again. Calls go
//! through the shared [`ResilientRedis`] connection, so an unreachable Redis answers
//! [`RateLimitError::Unavailable`] within the Redis timeout (at once while the breaker is open).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{RedisCallError, ResilientRedis};
use crate::ports::{Decision, Quota, RateLimitError, RateLimiter};

pub struct RedisRateLimiter {
    redis: Arc<ResilientRedis>,
    prefix: String,
    script: redis::Script,
}

impl RedisRateLimiter {
    pub fn new(redis: Arc<ResilientRedis>, prefix: &str) -> Self {
        Self { redis, prefix: prefix.to_owned(), script: redis::Script::new(include_str!("scripts/gcra.lua")) }
    }

    fn key(&self, quota: &Quota, key: &str) -> String {
        format!("{}{}/{}:{key}", self.prefix, quota.burst, quota.interval.as_micros())
    }
}

fn to_port_error(e: RedisCallError) -> RateLimitError {
    if e.is_unavailable() {
        RateLimitError::Unavailable(Box::new(e))
    } else {
        RateLimitError::Unexpected(Box::new(e))
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, quota: &Quota, key: &str) -> Result<Decision, RateLimitError> {
        let redis_key = self.key(quota, key);
        let burst = quota.burst.get();
        let interval_us = u64::try_from(quota.interval.as_micros()).unwrap_or(u64::MAX).max(1);
        let script = &self.script;
        let reply: Vec<i64> =
            self.redis
                .call(|mut con| async move {
                    script.key(&redis_key).arg(burst).arg(interval_us).invoke_async(&mut con).await
                })
                .await
                .map_err(to_port_error)?;
        let [allowed, remaining, retry_us, reset_us] = reply[..] else {
            let message = format!("rate limit script returned {} values instead of 4", reply.len());
            return Err(RateLimitError::Unexpected(message.into()));
        };
        let micros = |us: i64| Duration::from_micros(u64::try_from(us).unwrap_or(0));
        Ok(Decision {
            allowed: allowed == 1,
            limit: burst,
            remaining: u32::try_from(remaining).unwrap_or(0).min(burst - 1),
            reset_after: micros(reset_us),
            retry_after: micros(retry_us),
        })
    }

    async fn check_health(&self) -> Result<(), RateLimitError> {
        self.redis.ping().await.map_err(to_port_error)
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

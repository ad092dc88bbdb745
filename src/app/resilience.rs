//! Wiring of the rate limiter (`RATELIMIT_BACKEND` → adapter), the shared Redis connection with its
//! circuit breaker, and the Redis Pub/Sub trigger; plus the background tasks they need.
//!
//! Unlike the durable stores, an unreachable Redis does not stop the start-up here: the rate limiter
//! falls back to local budgets and the subscriber keeps retrying, both visible in `/health`. An
//! invalid `REDIS_URL` does stop it.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::config::{RateLimitBackend, Settings, StoreBackend};
use super::diagnostics::RateLimiterDiagnostic;
use super::stores::StoreError;
use crate::adapters::http::client_ip::parse_trusted_proxies;
use crate::adapters::http::RateLimitPolicy;
use crate::adapters::ratelimit::{FallbackRateLimiter, LocalRateLimiter};
use crate::adapters::redis::breaker::BreakerSettings;
use crate::adapters::redis::pubsub::{self, PubSubSettings, PubSubStatus};
use crate::adapters::redis::{
    PubSubDiagnostic, RedisDiagnostic, RedisRateLimiter, RedisTarget, ResilienceSettings, ResilientRedis,
};
use crate::ports::{DynDiagnostic, DynPolicySource, DynRateLimiter, DynTransportMetrics};
use crate::service::NotificationService;
use tokio_util::sync::CancellationToken;

pub struct Resilience {
    pub rate_limit: Option<Arc<RateLimitPolicy>>,
    /// The Redis limiter's local fallback, for `/stats`.
    pub fallback: Option<Arc<FallbackRateLimiter>>,
    pub connection: Option<Arc<ResilientRedis>>,
    pub pubsub: Option<Arc<PubSubStatus>>,
    local_limiter: Option<(Arc<LocalRateLimiter>, Duration)>,
    pubsub_settings: Option<PubSubSettings>,
}

/// Opens the one Redis connection (breaker, timeout, reconnection) that every Redis feature shares —
/// the queue and ACK stores, the rate limiter, health probes — when any of them is configured.
pub async fn shared_redis(settings: &Settings) -> Result<Option<Arc<ResilientRedis>>, StoreError> {
    let r = &settings.ratelimit;
    let stores_use_it = (settings.queue.enabled && settings.queue.backend == StoreBackend::Redis)
        || (settings.ack.enabled && settings.ack.backend == StoreBackend::Redis);
    // Cluster mode shares this connection unless CLUSTER_REDIS_URL names a Redis of its own.
    let cluster_uses_it =
        settings.cluster_uses_redis() && settings.cluster.redis_url.as_ref().is_none_or(|u| u.expose().is_empty());
    let revocations_use_it = settings.revocation.backend == super::config::RevocationBackend::Redis;
    let wanted = (r.enabled && r.backend == RateLimitBackend::Redis)
        || settings.redis.pubsub_enabled
        || stores_use_it
        || cluster_uses_it
        || revocations_use_it;
    if !wanted {
        return Ok(None);
    }
    connect_redis(settings, settings.redis_url().unwrap_or_default(), "REDIS_URL").await.map(Some)
}

/// A resilient connection to `url` with the `REDIS_*` timeouts, breaker and TLS; with
/// `REDIS_CLUSTER`, `url` lists the seed nodes of a Redis Cluster.
pub async fn connect_redis(
    settings: &Settings,
    url: &str,
    setting: &'static str,
) -> Result<Arc<ResilientRedis>, StoreError> {
    let tls = redis_tls(settings);
    let target = if settings.redis.cluster {
        crate::adapters::redis::tls::cluster_seeds(url, &tls).map(RedisTarget::Cluster)
    } else {
        crate::adapters::redis::tls::client(url, &tls).map(RedisTarget::Single)
    };
    let target = target.map_err(|e| StoreError::Unavailable { setting, backend: "redis", source: Box::new(e) })?;
    Ok(ResilientRedis::connect_target(target, resilience_settings(settings)).await)
}

pub async fn open(
    settings: &Settings,
    connection: Option<Arc<ResilientRedis>>,
    policies: DynPolicySource,
    metrics: DynTransportMetrics,
) -> Result<Resilience, StoreError> {
    let r = &settings.ratelimit;
    let redis_limiter = r.enabled && r.backend == RateLimitBackend::Redis;
    let mut local_limiter = None;
    let mut fallback = None;
    let rate_limit = if r.enabled {
        if policies.rate_quotas().is_none() {
            let message = "RATELIMIT_HTTP_* and RATELIMIT_WS_* must be greater than 0";
            return Err(StoreError::said("RATELIMIT_ENABLED", "rate limiter", message));
        }
        let local = Arc::new(LocalRateLimiter::new());
        local_limiter = Some((local.clone(), Duration::from_secs(r.cleanup_interval_seconds)));
        let trusted = settings.trusted_proxies.as_deref().map(parse_trusted_proxies).transpose();
        let trusted = trusted.map_err(|message| StoreError::said("TRUSTED_PROXIES", "rate limiter", message))?;
        let limiter: DynRateLimiter = match (&connection, redis_limiter) {
            (Some(redis), true) => {
                // The limiter appends to its prefix as it is; the separator every prefix gets is added here.
                let prefix = format!("{}:", r.redis_key_prefix);
                let primary = Arc::new(RedisRateLimiter::new(redis.clone(), &prefix));
                let with_fallback = Arc::new(FallbackRateLimiter::new(primary, local));
                fallback = Some(with_fallback.clone());
                with_fallback
            }
            _ => local,
        };
        Some(Arc::new(RateLimitPolicy::new(limiter, policies, trusted.unwrap_or_default(), metrics)))
    } else {
        None
    };
    let pubsub_settings = settings.redis.pubsub_enabled.then(|| PubSubSettings {
        channels: settings.redis.channel_list(),
        timeout: Duration::from_millis(settings.redis.timeout_ms),
        keepalive_interval: Duration::from_millis(settings.redis.pubsub_keepalive_ms),
        reconnect_min_delay: Duration::from_millis(settings.redis.reconnect_min_delay_ms),
        reconnect_max_delay: Duration::from_millis(settings.redis.reconnect_max_delay_ms),
        // One channel per process: two nodes never take each other's canary for their own.
        canary_channel: format!("ara:canary:{}", uuid::Uuid::new_v4().simple()),
        canary_interval: Duration::from_millis(settings.redis.pubsub_canary_interval_ms),
    });
    let pubsub = pubsub_settings.as_ref().map(|_| Arc::new(PubSubStatus::default()));
    Ok(Resilience { rate_limit, fallback, connection, pubsub, local_limiter, pubsub_settings })
}

fn redis_tls(settings: &Settings) -> crate::adapters::redis::tls::RedisTls {
    let path = |value: &Option<String>| value.as_deref().map(std::path::PathBuf::from);
    crate::adapters::redis::tls::RedisTls {
        ca_cert: path(&settings.redis.tls_ca_cert),
        client_cert: path(&settings.redis.tls_client_cert),
        client_key: path(&settings.redis.tls_client_key),
    }
}

fn resilience_settings(settings: &Settings) -> ResilienceSettings {
    let redis = &settings.redis;
    ResilienceSettings {
        breaker: BreakerSettings {
            failure_threshold: redis.breaker_failure_threshold,
            success_threshold: redis.breaker_success_threshold,
            open_duration: Duration::from_millis(redis.breaker_open_ms),
        },
        timeout: Duration::from_millis(redis.timeout_ms),
        reconnect_min_delay: Duration::from_millis(redis.reconnect_min_delay_ms),
        reconnect_max_delay: Duration::from_millis(redis.reconnect_max_delay_ms),
    }
}

impl Resilience {
    /// Starts the local limiter's cleanup and the Pub/Sub subscriber; abort the handles at shutdown.
    pub fn spawn(&self, service: &Arc<NotificationService>, shutdown: &CancellationToken) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        if let Some((local, every)) = &self.local_limiter {
            tasks.push(local.spawn_cleanup(*every));
        }
        if let (Some(settings), Some(status), Some(connection)) =
            (&self.pubsub_settings, &self.pubsub, &self.connection)
        {
            tasks.push(pubsub::spawn(
                connection.clone(),
                service.clone(),
                settings.clone(),
                status.clone(),
                shutdown.clone(),
            ));
        }
        tasks
    }

    /// The diagnostics of Redis, the Pub/Sub trigger and the rate limiter, those in use.
    pub fn diagnostics(&self) -> Vec<DynDiagnostic> {
        let mut list: Vec<DynDiagnostic> = Vec::new();
        if let Some(redis) = &self.connection {
            list.push(Arc::new(RedisDiagnostic(redis.clone())));
        }
        if let (Some(status), Some(settings)) = (&self.pubsub, &self.pubsub_settings) {
            list.push(Arc::new(PubSubDiagnostic { status: status.clone(), deadline: settings.canary_deadline() }));
        }
        if let Some(policy) = &self.rate_limit {
            list.push(Arc::new(RateLimiterDiagnostic { policy: policy.clone(), fallback: self.fallback.clone() }));
        }
        list
    }
}

//! Wiring of managed tenants (`TENANT_ENABLED`): the cache over the tenant store, the policy source
//! that reads each tenant's limits from it, the limiter behind `sends_per_second` (Redis when the rate
//! limiter's backend is, so the budget is shared by every node), and the periodic refresh that brings
//! in what other nodes changed.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::config::{RateLimitBackend, Settings, TenantSettings};
use crate::adapters::ratelimit::{FallbackRateLimiter, LocalRateLimiter};
use crate::adapters::redis::{RedisRateLimiter, ResilientRedis};
use crate::domain::queue::QueuePolicy;
use crate::domain::{ConnectionPolicy, ErrorChain, Limits, TenantId};
use crate::ports::{DynPolicySource, DynRateLimiter, PolicySource, RateQuotas, TenantDirectory};
use crate::service::tenants::{TenantCache, TenantManager, TenantRules};

/// Each tenant's limits over the server's: what `TenantCache::effective_limits` leaves unset comes
/// from the settings.
pub struct TenantPolicies {
    base: DynPolicySource,
    cache: Arc<TenantCache>,
}

impl PolicySource for TenantPolicies {
    fn limits(&self, tenant: &TenantId) -> Limits {
        let base = self.base.limits(tenant);
        let own = self.cache.limits(tenant);
        Limits {
            max_connections: base.max_connections,
            max_tenant_connections: own.max_connections,
            max_connections_per_user: own.max_connections_per_user.unwrap_or(base.max_connections_per_user),
            max_subscriptions_per_connection: own
                .max_subscriptions_per_connection
                .unwrap_or(base.max_subscriptions_per_connection),
        }
    }

    fn connection(&self, tenant: &TenantId) -> ConnectionPolicy {
        self.base.connection(tenant)
    }

    fn queue(&self, tenant: &TenantId) -> QueuePolicy {
        let base = self.base.queue(tenant);
        let own = self.cache.limits(tenant);
        QueuePolicy {
            max_per_user: own.queue_max_per_user.unwrap_or(base.max_per_user),
            message_ttl_seconds: own
                .queue_ttl_seconds
                .map_or(base.message_ttl_seconds, |ttl| u32::try_from(ttl).unwrap_or(u32::MAX)),
        }
    }

    fn max_payload_bytes(&self, tenant: &TenantId) -> usize {
        self.cache.limits(tenant).max_payload_bytes.unwrap_or_else(|| self.base.max_payload_bytes(tenant))
    }

    fn rate_quotas(&self) -> Option<RateQuotas> {
        self.base.rate_quotas()
    }
}

/// What the app builds before the service when tenants are managed.
pub struct Tenancy {
    pub cache: Arc<TenantCache>,
    /// The `[tenant]` settings the tenants' configured limits come from; a reload replaces them.
    pub configured: Arc<ArcSwap<TenantSettings>>,
    pub policies: Arc<TenantPolicies>,
    pub rules: TenantRules,
    local_limiter: Arc<LocalRateLimiter>,
    refresh: Duration,
    cleanup: Duration,
}

/// `base`: the settings' policies (replaced on reload), under each tenant's own.
pub fn prepare(settings: &Settings, base: DynPolicySource, redis: Option<&Arc<ResilientRedis>>) -> Tenancy {
    let configured = Arc::new(ArcSwap::from_pointee(settings.tenant.clone()));
    let limits = configured.clone();
    let cache = Arc::new(TenantCache::new(Box::new(move |tenant| limits.load().configured_limits(tenant))));
    let policies = Arc::new(TenantPolicies { base, cache: cache.clone() });
    let local = Arc::new(LocalRateLimiter::new());
    let r = &settings.ratelimit;
    let limiter: DynRateLimiter = match redis {
        Some(redis) if r.backend == RateLimitBackend::Redis => {
            let prefix = format!("{}:", r.redis_key_prefix);
            Arc::new(FallbackRateLimiter::new(Arc::new(RedisRateLimiter::new(redis.clone(), &prefix)), local.clone()))
        }
        _ => local.clone(),
    };
    Tenancy {
        configured,
        rules: TenantRules { directory: cache.clone(), limiter },
        cache,
        policies,
        local_limiter: local,
        refresh: Duration::from_secs(settings.tenant.cache_refresh_seconds),
        cleanup: Duration::from_secs(r.cleanup_interval_seconds.max(1)),
    }
}

impl Tenancy {
    /// The cache refresh and the local limiter's cleanup; abort the handles at shutdown.
    pub fn spawn(&self, manager: Arc<TenantManager>, shutdown: &CancellationToken) -> Vec<JoinHandle<()>> {
        let token = shutdown.clone();
        let every = self.refresh;
        let refresh = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tick.tick() => {
                        if let Err(e) = manager.refresh().await {
                            // The cache keeps what it had: tenants keep working on the last known state.
                            tracing::warn!(error = %ErrorChain(&e), "tenant cache refresh failed");
                        }
                    }
                }
            }
        });
        vec![refresh, self.local_limiter.spawn_cleanup(self.cleanup)]
    }
}

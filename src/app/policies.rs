//! The policy source built from the settings: the same limits for every tenant, read by the service,
//! the transports and the rate limiter whenever they apply one.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use super::config::Settings;
use crate::domain::queue::QueuePolicy;
use crate::domain::{ConnectionPolicy, Limits, TenantId};
use crate::ports::{PolicySource, RateQuotas};

pub struct StaticPolicies {
    limits: Limits,
    connection: ConnectionPolicy,
    queue: QueuePolicy,
    max_payload_bytes: usize,
    rate: Option<RateQuotas>,
}

impl StaticPolicies {
    /// From settings that passed validation (zero limits and empty quotas are refused there).
    pub fn from_settings(settings: &Settings) -> Self {
        let ws = &settings.websocket;
        let r = &settings.ratelimit;
        let rate = match (r.enabled, r.http_quota(), r.connection_quota()) {
            (true, Some(http), Some(connections)) => Some(RateQuotas { http, connections }),
            _ => None,
        };
        Self {
            limits: Limits {
                max_connections: ws.max_connections,
                max_tenant_connections: None,
                max_connections_per_user: ws.max_connections_per_user,
                max_subscriptions_per_connection: ws.max_subscriptions_per_connection,
            },
            connection: ConnectionPolicy {
                outbound_queue_size: ws.outbound_queue_size,
                slow_consumer: ws.slow_consumer_policy,
                heartbeat_interval: Duration::from_secs(ws.heartbeat_interval_seconds),
                idle_timeout: Duration::from_secs(ws.connection_timeout_seconds),
                write_timeout: Duration::from_secs(ws.write_timeout_seconds.max(1)),
                max_message_bytes: ws.max_message_bytes,
            },
            queue: QueuePolicy {
                max_per_user: settings.queue.max_size_per_user,
                message_ttl_seconds: settings.queue.message_ttl_seconds,
            },
            max_payload_bytes: settings.server.body_limit_bytes,
            rate,
        }
    }
}

impl PolicySource for StaticPolicies {
    fn limits(&self, _tenant: &TenantId) -> Limits {
        self.limits
    }

    fn connection(&self, _tenant: &TenantId) -> ConnectionPolicy {
        self.connection
    }

    fn queue(&self, _tenant: &TenantId) -> QueuePolicy {
        self.queue
    }

    fn max_payload_bytes(&self, _tenant: &TenantId) -> usize {
        self.max_payload_bytes
    }

    fn rate_quotas(&self) -> Option<RateQuotas> {
        self.rate
    }
}

/// The policy source in force, replaced as a whole when the settings are reloaded: every limit is
/// asked for when it is applied, so the next check of every open connection sees the new one.
pub struct ReloadablePolicies {
    current: ArcSwap<Box<dyn PolicySource>>,
}

impl ReloadablePolicies {
    pub fn new(source: impl PolicySource + 'static) -> Self {
        Self { current: ArcSwap::from_pointee(Box::new(source)) }
    }

    pub fn replace(&self, source: impl PolicySource + 'static) {
        self.current.store(Arc::new(Box::new(source)));
    }
}

impl PolicySource for ReloadablePolicies {
    fn limits(&self, tenant: &TenantId) -> Limits {
        self.current.load().limits(tenant)
    }

    fn connection(&self, tenant: &TenantId) -> ConnectionPolicy {
        self.current.load().connection(tenant)
    }

    fn queue(&self, tenant: &TenantId) -> QueuePolicy {
        self.current.load().queue(tenant)
    }

    fn max_payload_bytes(&self, tenant: &TenantId) -> usize {
        self.current.load().max_payload_bytes(tenant)
    }

    fn rate_quotas(&self) -> Option<RateQuotas> {
        self.current.load().rate_quotas()
    }
}

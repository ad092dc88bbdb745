//! How the service holds sends and connects to their tenant when tenants are managed: the tenant must
//! exist and be active, and stay within its quotas. With tenants off, nothing here refuses anything.

use super::tenants::{QuotaExceeded, TenantRefusal};
use super::NotificationService;
use crate::delivery::RegisterError;
use crate::domain::{ErrorChain, TenantId, TenantStatus};
use crate::ports::{CloseReason, Quota};

impl NotificationService {
    /// Whether `tenant` may act at all (exists, active).
    pub fn admit_tenant(&self, tenant: &TenantId) -> Result<(), TenantRefusal> {
        let Some(rules) = &self.tenants else { return Ok(()) };
        match rules.directory.status(tenant) {
            None => Err(TenantRefusal::NotFound(tenant.clone())),
            Some(TenantStatus::Suspended) => Err(TenantRefusal::Suspended(tenant.clone())),
            Some(TenantStatus::Active) => Ok(()),
        }
    }

    /// [`Self::admit_tenant`], then one send counted against the tenant's `sends_per_second`. A
    /// limiter that cannot answer lets the send through (logged), like the HTTP rate limit.
    pub async fn admit_send(&self, tenant: &TenantId) -> Result<(), TenantRefusal> {
        self.admit_tenant(tenant)?;
        let Some(rules) = &self.tenants else { return Ok(()) };
        let limits = rules.directory.limits(tenant);
        let Some(per_second) = limits.sends_per_second else { return Ok(()) };
        let burst = limits.send_burst.unwrap_or(per_second);
        let Some(quota) = Quota::per_second(per_second, burst) else { return Ok(()) };
        match rules.limiter.check(&quota, &format!("tenant:{tenant}:sends")).await {
            Ok(decision) if decision.allowed => Ok(()),
            Ok(decision) => Err(QuotaExceeded {
                quota: "sends_per_second",
                limit: u64::from(per_second),
                retry_after: Some(decision.retry_after),
            }
            .into()),
            Err(e) => {
                tracing::error!(error = %ErrorChain(&e), tenant = %tenant, "tenant send quota not checked");
                Ok(())
            }
        }
    }

    /// Whether the tenant has a payload limit of its own (set over the API).
    pub(super) fn tenant_sets_payload_limit(&self, tenant: &TenantId) -> bool {
        self.tenants.as_ref().is_some_and(|rules| rules.directory.limits(tenant).max_payload_bytes.is_some())
    }

    /// A refused registration in the words of the tenant's quotas, when tenants are managed.
    pub(super) fn tenant_quota_of(&self, e: &RegisterError) -> Option<QuotaExceeded> {
        self.tenants.as_ref()?;
        let (quota, max) = match e {
            RegisterError::TenantLimit { max } => ("max_connections", *max),
            RegisterError::UserLimit { max } => ("max_connections_per_user", *max),
            RegisterError::ServerFull { .. } => return None,
        };
        Some(QuotaExceeded { quota, limit: max as u64, retry_after: None })
    }

    /// Asks every connection of the tenant to close for `reason`; returns how many.
    pub fn close_tenant(&self, tenant: &TenantId, reason: CloseReason) -> usize {
        self.registry.close_tenant(tenant, reason)
    }

    /// Live connections of every tenant that has one, on this node.
    pub fn tenant_connection_counts(&self) -> Vec<(TenantId, usize)> {
        self.registry.tenant_connection_counts()
    }

    /// Notifications accepted so far, per tenant, on this node.
    pub fn tenant_message_totals(&self) -> Vec<(TenantId, u64)> {
        self.tenant_stats.totals()
    }

    pub fn forget_tenant(&self, tenant: &TenantId) {
        self.tenant_stats.forget(tenant);
    }

    /// Drops a deleted tenant's offline queues; returns how many entries went (0 without a queue).
    /// The store walks every queue it holds, so this is bounded by ten store timeouts, not one.
    pub async fn purge_tenant_queues(&self, tenant: &TenantId) -> Result<u64, crate::ports::QueueError> {
        let Some(queue) = &self.queue else { return Ok(0) };
        let call = queue.store.purge_tenant(tenant);
        super::bounded::bounded(&*self.timer, queue.timeout * 10, call, crate::ports::QueueError::Unavailable).await
    }
}

/// The limits a tenant's connections and sends are held to now, from the policy source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsInForce {
    pub max_connections_per_user: usize,
    pub max_subscriptions_per_connection: usize,
    pub max_payload_bytes: usize,
    pub queue_max_per_user: usize,
    pub queue_ttl_seconds: u64,
}

impl NotificationService {
    pub fn tenant_limits_in_force(&self, tenant: &TenantId) -> LimitsInForce {
        let limits = self.policies.limits(tenant);
        let queue = self.policies.queue(tenant);
        LimitsInForce {
            max_connections_per_user: limits.max_connections_per_user,
            max_subscriptions_per_connection: limits.max_subscriptions_per_connection,
            max_payload_bytes: self.policies.max_payload_bytes(tenant),
            queue_max_per_user: queue.max_per_user,
            queue_ttl_seconds: u64::from(queue.message_ttl_seconds),
        }
    }
}

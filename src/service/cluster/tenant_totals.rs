//! A tenant's figures across the cluster: each node writes its own totals per tenant to presence,
//! and whoever asks adds up the live nodes' figures. Connection quotas are held to the cluster's
//! count this way, and the Tenant API shows the cluster's usage.
//!
//! The quota check reads the other nodes' counts before this node registers the connection, so two
//! nodes admitting a tenant's last place within one presence write of each other may both let it in:
//! the overshoot is bounded by the number of nodes connecting at that moment, and corrected as soon
//! as the connections count (a later connect sees them). Presence out of reach: the node's own limits
//! apply, as with cluster mode off, rather than refusing everyone.

use super::{bump, Cluster};
use crate::domain::cluster::{PresenceKey, TenantMeasure};
use crate::domain::{ErrorChain, Limits, TenantId, UserKey};
use crate::ports::PresenceError;
use crate::service::bounded::bounded;
use crate::service::tenants::{day_of, TenantUsage};
use crate::service::NotificationService;

/// The measures a tenant's usage is made of, in this order.
fn usage_keys(tenant: &TenantId, day: i64) -> [PresenceKey; 5] {
    let key = |m| PresenceKey::Tenant(tenant.clone(), m);
    [
        key(TenantMeasure::Connections),
        key(TenantMeasure::Users),
        key(TenantMeasure::Channels),
        key(TenantMeasure::MessagesOn(day)),
        key(TenantMeasure::Messages),
    ]
}

fn usage_of(values: [usize; 5]) -> TenantUsage {
    let [connections, users, channels, today, total] = values;
    TenantUsage { connections, users, channels, messages_today: today as u64, messages_total: total as u64 }
}

impl NotificationService {
    /// What this node holds of `tenant`, as presence keeps it (yesterday's message count set to 0, so
    /// a node does not keep one key per day it has lived).
    pub(crate) fn tenant_measures(&self, tenant: &TenantId) -> Vec<(PresenceKey, usize)> {
        let now = self.clock.now();
        let day = day_of(now);
        let local = self.local_tenant_usage(tenant);
        let values = [
            local.connections,
            local.users,
            local.channels,
            usize::try_from(local.messages_today).unwrap_or(usize::MAX),
            usize::try_from(local.messages_total).unwrap_or(usize::MAX),
        ];
        let mut measures: Vec<(PresenceKey, usize)> = usage_keys(tenant, day).into_iter().zip(values).collect();
        measures.push((PresenceKey::Tenant(tenant.clone(), TenantMeasure::MessagesOn(day - 1)), 0));
        measures
    }

    pub(crate) fn local_tenant_usage(&self, tenant: &TenantId) -> TenantUsage {
        let (connections, users, channels) = self.registry.tenant_counts(tenant);
        let (messages_total, messages_today) = self.tenant_stats.messages(tenant, self.clock.now());
        TenantUsage { connections, users, channels, messages_today, messages_total }
    }

    /// Each tenant's usage over the live nodes, this node's own part read locally. `users` and
    /// `channels` add up each node's distinct ones (a user connected to two nodes counts twice).
    /// This node's figures alone with cluster mode off or presence out of reach.
    pub async fn tenant_usages(&self, tenants: &[TenantId]) -> Vec<TenantUsage> {
        let local: Vec<TenantUsage> = tenants.iter().map(|t| self.local_tenant_usage(t)).collect();
        let Some(cluster) = self.cluster.as_ref() else { return local };
        if tenants.is_empty() {
            return local;
        }
        let day = day_of(self.clock.now());
        let keys: Vec<PresenceKey> = tenants.iter().flat_map(|t| usage_keys(t, day)).collect();
        let call = cluster.presence.counts(&keys);
        let found = match bounded(&*self.timer, cluster.timeout, call, PresenceError::Unavailable).await {
            Ok(found) if found.len() == keys.len() => found,
            Ok(_) => return local,
            Err(e) => {
                bump(&cluster.counters.presence_failures, 1);
                tracing::warn!(error = %ErrorChain(&e), "cannot ask presence for tenant usage; showing this node's");
                return local;
            }
        };
        let mut remote = found.into_iter().map(|holders| {
            holders.into_iter().filter(|h| h.node_id != cluster.node).map(|h| h.connections).sum::<usize>()
        });
        local
            .into_iter()
            .map(|own| {
                let mut values = [0usize; 5];
                for value in &mut values {
                    *value = remote.next().unwrap_or(0);
                }
                let others = usage_of(values);
                TenantUsage {
                    connections: own.connections + others.connections,
                    users: own.users + others.users,
                    channels: own.channels + others.channels,
                    messages_today: own.messages_today + others.messages_today,
                    messages_total: own.messages_total + others.messages_total,
                }
            })
            .collect()
    }
}

impl Cluster {
    /// The connection limits left for `user` on this node: the per-user and tenant limits less what
    /// the other live nodes hold. `limits` unchanged when presence cannot be asked.
    pub(crate) async fn limits_here(&self, service: &NotificationService, user: &UserKey, limits: &Limits) -> Limits {
        let mut keys = vec![PresenceKey::User(user.clone())];
        if limits.max_tenant_connections.is_some() {
            keys.push(PresenceKey::Tenant(user.tenant.clone(), TenantMeasure::Connections));
        }
        let call = self.presence.counts(&keys);
        let found = match bounded(&*service.timer, self.timeout, call, PresenceError::Unavailable).await {
            Ok(found) => found,
            Err(e) => {
                bump(&self.counters.presence_failures, 1);
                tracing::warn!(error = %ErrorChain(&e), "cannot ask presence for connection counts; holding to this node's");
                return *limits;
            }
        };
        let elsewhere = |i: usize| -> usize {
            found
                .get(i)
                .map_or(0, |holders| holders.iter().filter(|h| h.node_id != self.node).map(|h| h.connections).sum())
        };
        Limits {
            max_connections_per_user: limits.max_connections_per_user.saturating_sub(elsewhere(0)),
            max_tenant_connections: limits.max_tenant_connections.map(|max| max.saturating_sub(elsewhere(1))),
            ..*limits
        }
    }
}

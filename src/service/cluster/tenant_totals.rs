//! A tenant's figures across the cluster. Connections and messages are sums: each node writes its own
//! totals per tenant to presence, and whoever asks adds up the live nodes' figures. Distinct users
//! and channels are not sums (a user on two nodes is one user): they are counted from the user and
//! channel keys the live nodes hold. Connection quotas are held to the cluster's count this way, and
//! the Tenant API shows the cluster's usage.
//!
//! The quota check reads the other nodes' counts before this node registers the connection, so two
//! nodes admitting a tenant's last place within one presence write of each other may both let it in:
//! the overshoot is bounded by the number of nodes connecting at that moment, and corrected as soon
//! as the connections count (a later connect sees them). Presence out of reach: the node's own limits
//! apply, as with cluster mode off, rather than refusing everyone.

use std::collections::{HashMap, HashSet};

use super::{bump, Cluster};
use crate::domain::cluster::{PresenceKey, TenantMeasure};
use crate::domain::{ErrorChain, Limits, TenantId, UserKey};
use crate::ports::PresenceError;
use crate::service::bounded::bounded;
use crate::service::tenants::{day_of, TenantUsage};
use crate::service::NotificationService;

/// The summed measures of a tenant's usage, in this order: connections, today's and all messages.
fn summed_keys(tenant: &TenantId, day: i64) -> [PresenceKey; 3] {
    let key = |m| PresenceKey::Tenant(tenant.clone(), m);
    [key(TenantMeasure::Connections), key(TenantMeasure::MessagesOn(day)), key(TenantMeasure::Messages)]
}

/// Key names grouped by the tenant they belong to.
fn by_tenant(names: impl IntoIterator<Item = String>) -> HashMap<String, HashSet<String>> {
    let mut grouped: HashMap<String, HashSet<String>> = HashMap::new();
    for name in names {
        if let Some(tenant) = PresenceKey::tenant_in(&name) {
            grouped.entry(tenant.to_owned()).or_default().insert(name);
        }
    }
    grouped
}

impl NotificationService {
    /// What this node holds of `tenant`, as presence keeps it (yesterday's message count set to 0, so
    /// a node does not keep one key per day it has lived). Constant time: the reconciler writes it for
    /// every tenant a change touched.
    pub(crate) fn tenant_measures(&self, tenant: &TenantId) -> Vec<(PresenceKey, usize)> {
        let now = self.clock.now();
        let day = day_of(now);
        let (total, today) = self.tenant_stats.messages(tenant, now);
        let values = [
            self.registry.tenant_connection_count(tenant),
            usize::try_from(today).unwrap_or(usize::MAX),
            usize::try_from(total).unwrap_or(usize::MAX),
        ];
        let mut measures: Vec<(PresenceKey, usize)> = summed_keys(tenant, day).into_iter().zip(values).collect();
        measures.push((PresenceKey::Tenant(tenant.clone(), TenantMeasure::MessagesOn(day - 1)), 0));
        measures
    }

    pub(crate) fn local_tenant_usage(&self, tenant: &TenantId) -> TenantUsage {
        let (connections, users, channels) = self.registry.tenant_counts(tenant);
        let (messages_total, messages_today) = self.tenant_stats.messages(tenant, self.clock.now());
        TenantUsage { connections, users, channels, messages_today, messages_total }
    }

    /// Each tenant's usage over the live nodes, this node's own part read locally; this node's
    /// figures alone with cluster mode off or presence out of reach.
    pub async fn tenant_usages(&self, tenants: &[TenantId]) -> Vec<TenantUsage> {
        let local: Vec<TenantUsage> = tenants.iter().map(|t| self.local_tenant_usage(t)).collect();
        let Some(cluster) = self.cluster.as_ref() else { return local };
        if tenants.is_empty() {
            return local;
        }
        match self.cluster_usages(cluster, tenants, &local).await {
            Ok(usages) => usages,
            Err(e) => {
                bump(&cluster.counters.presence_failures, 1);
                tracing::warn!(error = %ErrorChain(&e), "cannot ask presence for tenant usage; showing this node's");
                local
            }
        }
    }

    async fn cluster_usages(
        &self,
        cluster: &Cluster,
        tenants: &[TenantId],
        local: &[TenantUsage],
    ) -> Result<Vec<TenantUsage>, PresenceError> {
        let day = day_of(self.clock.now());
        let keys: Vec<PresenceKey> = tenants.iter().flat_map(|t| summed_keys(t, day)).collect();
        let (timer, limit) = (&*self.timer, cluster.timeout);
        let found = bounded(timer, limit, cluster.presence.counts(&keys), PresenceError::Unavailable).await?;
        // One tenant: only its names; several: every name, walked once.
        let (users_prefix, channels_prefix) = match tenants {
            [one] => (PresenceKey::user_prefix(one), PresenceKey::channel_prefix(one)),
            _ => (PresenceKey::USERS.to_owned(), PresenceKey::CHANNELS.to_owned()),
        };
        let held = |prefix| bounded(timer, limit, cluster.presence.names_held(prefix), PresenceError::Unavailable);
        let mut users = by_tenant(held(&users_prefix).await?);
        let mut channels = by_tenant(held(&channels_prefix).await?);
        // This node's own, which presence may not have yet.
        for key in self.registry.user_keys() {
            users.entry(key.tenant.to_string()).or_default().insert(PresenceKey::User(key).name());
        }
        for (tenant, channel) in self.registry.channel_keys() {
            let name = PresenceKey::Channel(tenant.clone(), channel).name();
            channels.entry(tenant.to_string()).or_default().insert(name);
        }
        let mut remote = found.iter().map(|holders| cluster.elsewhere(holders));
        let mut next = || remote.next().unwrap_or(0);
        Ok(tenants
            .iter()
            .zip(local)
            .map(|(tenant, own)| {
                let (connections, today, total) = (next(), next(), next());
                TenantUsage {
                    connections: own.connections + connections,
                    users: users.get(tenant.as_str()).map_or(0, HashSet::len),
                    channels: channels.get(tenant.as_str()).map_or(0, HashSet::len),
                    messages_today: own.messages_today + today as u64,
                    messages_total: own.messages_total + total as u64,
                }
            })
            .collect())
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
        let elsewhere = |i: usize| found.get(i).map_or(0, |holders| self.elsewhere(holders));
        Limits {
            max_connections_per_user: limits.max_connections_per_user.saturating_sub(elsewhere(0)),
            max_tenant_connections: limits.max_tenant_connections.map(|max| max.saturating_sub(elsewhere(1))),
            ..*limits
        }
    }
}

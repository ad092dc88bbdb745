//! What operators ask of the cluster (`/api/v1/cluster/*`, channel info, `/stats`), and the Pub/Sub
//! trigger's once-per-cluster claim.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::{bump, now_ms};
use crate::domain::cluster::{stable_hash, NodeCount, NodeId, NodeStatus, PresenceKey};
use crate::domain::{ChannelName, ErrorChain, TenantId, UserKey};
use crate::ports::PresenceError;
use crate::service::bounded::bounded;
use crate::service::NotificationService;

/// How long a Pub/Sub message's claim lasts: copies of one message reach every node well within it.
const TRIGGER_WINDOW: Duration = Duration::from_secs(30);

/// `GET /api/v1/cluster/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub node_id: NodeId,
    pub nodes: Vec<NodeStatus>,
    pub healthy_nodes: usize,
    pub total_connections: usize,
}

/// The cluster section of `/stats`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSnapshot {
    pub node_id: NodeId,
    pub ready: bool,
    pub bus_subscribed: bool,
    pub canary_age_ms: u64,
    pub heartbeat_age_ms: u64,
    /// Bus messages waiting in the outbox now.
    pub outbox_len: usize,
    pub published: u64,
    pub publish_failures: u64,
    /// Messages to a node that was not listening (dead before presence noticed); queued instead.
    pub unheard: u64,
    /// Bus messages the full outbox refused, and of those the user ones queued instead.
    pub outbox_overflow: u64,
    pub overflow_queued: u64,
    pub received: u64,
    pub malformed: u64,
    pub presence_failures: u64,
    pub resubscriptions: u64,
    pub subscribed_topics: usize,
    /// Pub/Sub messages this node handled, and copies it left to the node that claimed them.
    pub trigger_claimed: u64,
    pub trigger_skipped: u64,
}

impl NotificationService {
    pub fn cluster_enabled(&self) -> bool {
        self.cluster.is_some()
    }

    pub fn cluster_ready(&self) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.is_ready())
    }

    /// `None` with cluster mode off.
    pub fn cluster_snapshot(&self) -> Option<ClusterSnapshot> {
        let c = self.cluster.as_ref()?;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let k = &c.counters;
        Some(ClusterSnapshot {
            node_id: c.node.clone(),
            ready: c.is_ready(),
            bus_subscribed: c.bus.is_subscribed(),
            canary_age_ms: c.canary_age_ms(),
            heartbeat_age_ms: c.heartbeat_age_ms(),
            outbox_len: c.outbox.len(),
            published: get(&k.published),
            publish_failures: get(&k.publish_failures),
            unheard: get(&k.unheard),
            outbox_overflow: get(&k.overflow),
            overflow_queued: get(&k.overflow_queued),
            received: get(&k.received),
            malformed: get(&k.malformed),
            presence_failures: get(&k.presence_failures),
            resubscriptions: get(&k.resubscriptions),
            subscribed_topics: c.topics.lock().len(),
            trigger_claimed: get(&k.trigger_claimed),
            trigger_skipped: get(&k.trigger_skipped),
        })
    }

    /// The live nodes as presence knows them; `None` with cluster mode off.
    pub async fn cluster_status(&self) -> Option<Result<ClusterStatus, PresenceError>> {
        let c = self.cluster.as_ref()?;
        let call = c.presence.nodes();
        Some(bounded(&*self.timer, c.timeout, call, PresenceError::Unavailable).await.map(|nodes| {
            ClusterStatus {
                node_id: c.node.clone(),
                healthy_nodes: nodes.len(),
                total_connections: nodes
                    .iter()
                    .map(|n| if n.node_id == c.node { self.registry.connection_count() } else { n.connections })
                    .sum(),
                nodes,
            }
        }))
    }

    /// The nodes holding the user, each with its connection count (this node's count is read
    /// locally); `None` with cluster mode off.
    pub async fn locate_user(&self, user: &UserKey) -> Option<Result<Vec<NodeCount>, PresenceError>> {
        self.cluster.as_ref()?;
        let key = PresenceKey::User(user.clone());
        Some(self.cluster_counts(key, self.registry.for_each_of_user(user, |_| {})).await)
    }

    /// A channel's subscribers on every live node; `None` when cluster mode is off or presence cannot
    /// be asked (the caller then answers with this node's count).
    pub async fn cluster_channel_subscribers(&self, tenant: &TenantId, channel: &ChannelName) -> Option<usize> {
        self.cluster.as_ref()?;
        let local = self.registry.channel_subscribers(tenant, channel).unwrap_or(0);
        let found = self.cluster_counts(PresenceKey::Channel(tenant.clone(), channel.clone()), local).await.ok()?;
        Some(found.iter().map(|n| n.connections).sum())
    }

    /// The tenant's channels with their subscribers on every live node, sorted by name; `None` when
    /// cluster mode is off or presence cannot be asked (the caller then answers with this node's).
    pub async fn cluster_channels(&self, tenant: &TenantId) -> Option<Vec<(ChannelName, usize)>> {
        let c = self.cluster.as_ref()?;
        let prefix = PresenceKey::channel_prefix(tenant);
        let listed = bounded(&*self.timer, c.timeout, c.presence.names_held(&prefix), PresenceError::Unavailable).await;
        let listed = listed
            .inspect_err(|e| tracing::warn!(error = %ErrorChain(e), "cannot list the cluster's channels"))
            .ok()?;
        let listed = listed.iter().filter_map(|name| PresenceKey::channel_of(tenant, name));
        let local: std::collections::BTreeMap<ChannelName, usize> =
            self.registry.channels_of(tenant).into_iter().collect();
        let names: std::collections::BTreeSet<ChannelName> = listed.into_iter().chain(local.keys().cloned()).collect();
        let keys: Vec<PresenceKey> = names.iter().map(|n| PresenceKey::Channel(tenant.clone(), n.clone())).collect();
        let found =
            bounded(&*self.timer, c.timeout, c.presence.counts(&keys), PresenceError::Unavailable).await.ok()?;
        let channels = names
            .into_iter()
            .zip(found)
            .map(|(name, holders)| {
                let elsewhere = c.elsewhere(&holders);
                let here = local.get(&name).copied().unwrap_or(0);
                (name, elsewhere + here)
            })
            .filter(|(_, subscribers)| *subscribers > 0)
            .collect();
        Some(channels)
    }

    async fn cluster_counts(&self, key: PresenceKey, local: usize) -> Result<Vec<NodeCount>, PresenceError> {
        let Some(c) = self.cluster.as_ref() else { return Ok(Vec::new()) };
        let call = c.presence.counts(std::slice::from_ref(&key));
        let found = bounded(&*self.timer, c.timeout, call, PresenceError::Unavailable).await?;
        let mut nodes: Vec<NodeCount> =
            found.into_iter().next().unwrap_or_default().into_iter().filter(|n| n.node_id != c.node).collect();
        if local > 0 {
            nodes.push(NodeCount { node_id: c.node.clone(), connections: local });
            nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        }
        Ok(nodes)
    }

    /// Whether this node handles a Pub/Sub message (always, with cluster mode off). Every node
    /// receives every message; the k-th copy of one payload on one channel within the window is
    /// claimed under one name on every node, so exactly one node handles each copy (a publisher that
    /// publishes one payload twice gets it handled twice). Presence out of reach: handled here, since
    /// duplicates beat loss.
    pub async fn claim_trigger(&self, channel: &str, raw: &[u8]) -> bool {
        let Some(c) = self.cluster.as_ref() else { return true };
        let hash = stable_hash(&[channel.as_bytes(), raw]);
        let now = now_ms();
        let window_ms = i64::try_from(TRIGGER_WINDOW.as_millis()).unwrap_or(i64::MAX);
        let occurrence = {
            let mut seen = c.trigger_seen.lock();
            if seen.len() > 100_000 {
                seen.retain(|_, (_, at)| now - *at < window_ms);
            }
            let entry = seen.entry(hash).or_insert((0, now));
            if now - entry.1 >= window_ms {
                *entry = (0, now);
            }
            entry.0 += 1;
            entry.1 = now;
            entry.0
        };
        let name = format!("trigger:{hash:016x}:{occurrence}");
        let call = c.presence.claim(&name, TRIGGER_WINDOW);
        match bounded(&*self.timer, c.timeout, call, PresenceError::Unavailable).await {
            Ok(true) => {
                bump(&c.counters.trigger_claimed, 1);
                true
            }
            Ok(false) => {
                bump(&c.counters.trigger_skipped, 1);
                false
            }
            Err(e) => {
                bump(&c.counters.presence_failures, 1);
                tracing::warn!(error = %ErrorChain(&e), "cannot claim a Pub/Sub message; handling it here");
                true
            }
        }
    }
}

//! The send path across nodes: where a user's other connections are, publishing to them through the
//! outbox, channel and broadcast topics, and the cluster-wide lease on a user's queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{bump, Cluster, Dirty};
use crate::domain::cluster::{Envelope, NodeCount, NodeId, PresenceKey, Route, TenantMeasure, Topic};
use crate::domain::{ErrorChain, Notification, Target, UserId, UserKey};
use crate::ports::{LeaseToken, PresenceError};
use crate::service::bounded::{bounded, within};
use crate::service::NotificationService;

/// Between two tries of a lease somebody else holds.
const LEASE_RETRY: Duration = Duration::from_millis(2);

/// A user's queue lease, held across the cluster.
pub(crate) struct Lease {
    key: PresenceKey,
    token: LeaseToken,
}

/// Where presence says one send's users are, other than here.
pub(crate) struct Located {
    /// Per user of the send, in order: the other nodes holding it, or `None` when presence could not
    /// be asked.
    pub remote: Vec<Option<Vec<NodeCount>>>,
}

impl Cluster {
    fn envelope(&self, n: &Notification, route: Route) -> bytes::Bytes {
        Envelope { origin: self.node.clone(), tenant: n.tenant.clone(), route, frame: n.frame().clone() }.encode()
    }

    /// Hands messages to the outbox; false (and counted) when they did not fit.
    fn enqueue(&self, batch: Vec<(Topic, bytes::Bytes)>) -> bool {
        let len = batch.len() as u64;
        match self.outbox.push_all(batch) {
            Ok(()) => true,
            Err(_) => {
                bump(&self.counters.overflow, len);
                tracing::warn!(messages = len, "the cluster outbox is full; bus messages were not sent");
                false
            }
        }
    }

    /// Publishes a channel or broadcast send to the topics of the nodes interested in it. At most
    /// once: a full outbox loses it for the other nodes (counted).
    pub(crate) fn publish_fanout(&self, n: &Notification, target: &Target) {
        let tenant = &n.tenant;
        let batch = match target {
            Target::Broadcast => vec![(Topic::Tenant(tenant.clone()), self.envelope(n, Route::Broadcast))],
            Target::Channel(channel) => {
                let route = Route::Channels { names: vec![channel.clone()] };
                vec![(Topic::Channel(tenant.clone(), channel.clone()), self.envelope(n, route))]
            }
            Target::Channels(channels) => {
                let payload = self.envelope(n, Route::Channels { names: channels.clone() });
                channels.iter().map(|c| (Topic::Channel(tenant.clone(), c.clone()), payload.clone())).collect()
            }
            Target::User(_) | Target::Users(_) => return,
        };
        self.enqueue(batch);
    }

    /// Asks presence where `users` are, leaving this node out.
    pub(crate) async fn locate(&self, service: &NotificationService, users: &[UserKey]) -> Located {
        let keys: Vec<PresenceKey> = users.iter().cloned().map(PresenceKey::User).collect();
        let call = self.presence.counts(&keys);
        match bounded(&*service.timer, self.timeout, call, PresenceError::Unavailable).await {
            Ok(found) => Located {
                remote: found
                    .into_iter()
                    .map(|holders| Some(holders.into_iter().filter(|h| h.node_id != self.node).collect()))
                    .collect(),
            },
            Err(e) => {
                bump(&self.counters.presence_failures, 1);
                tracing::warn!(error = %ErrorChain(&e), "cannot ask presence where users are; treating them as offline");
                Located { remote: vec![None; users.len()] }
            }
        }
    }

    /// Sends `n` to the other nodes holding the users: one message per node naming its users.
    /// Returns false when the outbox refused them.
    pub(crate) fn publish_to_nodes(&self, n: &Notification, per_node: BTreeMap<NodeId, Vec<UserId>>) -> bool {
        let batch: Vec<_> = per_node
            .into_iter()
            .map(|(node, ids)| (Topic::Node(node), self.envelope(n, Route::Users { ids })))
            .collect();
        self.enqueue(batch)
    }

    /// Takes the user's queue lease, trying until `limit`; `Err` when presence cannot be asked.
    pub(crate) async fn lease(
        &self,
        service: &NotificationService,
        user: &UserKey,
        limit: Duration,
    ) -> Result<Option<Lease>, PresenceError> {
        let key = PresenceKey::User(user.clone());
        // Held at most this long if its holder dies: a few store timeouts.
        let hold = limit * 3;
        let attempts = async {
            loop {
                match self.presence.lock(&key, hold).await {
                    Ok(Some(token)) => return Ok(Some(Lease { key: key.clone(), token })),
                    Ok(None) => service.timer.sleep(LEASE_RETRY).await,
                    Err(e) => return Err(e),
                }
            }
        };
        match within(&*service.timer, limit, attempts).await {
            Some(result) => result.inspect_err(|_| bump(&self.counters.presence_failures, 1)),
            None => Ok(None),
        }
    }

    pub(crate) async fn release(&self, service: &NotificationService, lease: Lease) {
        let call = self.presence.unlock(&lease.key, &lease.token);
        if let Err(e) = bounded(&*service.timer, self.timeout, call, PresenceError::Unavailable).await {
            // It runs out by itself after its hold.
            tracing::debug!(error = %ErrorChain(&e), "could not give a user's queue lease back");
        }
    }

    /// Writes this node's count of the user's connections, and of its tenant's, now (connect writes
    /// them before its lease goes, so a sender that takes the lease next sees the user, and the next
    /// connect on another node counts this one against the quotas). The tenant's message totals
    /// follow with the heartbeat.
    pub(crate) async fn write_user_count(&self, service: &NotificationService, user: &UserKey) {
        let count = service.registry.for_each_of_user(user, |_| {});
        let tenant_count = service.registry.tenant_connection_count(&user.tenant);
        let counts = [
            (PresenceKey::User(user.clone()), count),
            (PresenceKey::Tenant(user.tenant.clone(), TenantMeasure::Connections), tenant_count),
        ];
        let call = self.presence.set_counts(&self.node, &counts);
        if let Err(e) = bounded(&*service.timer, self.timeout, call, PresenceError::Unavailable).await {
            bump(&self.counters.presence_failures, 1);
            tracing::warn!(error = %ErrorChain(&e), "could not record a connection in presence; retrying in the background");
            self.mark(vec![Dirty::User(user.clone()), Dirty::Tenant(user.tenant.clone())]);
        }
    }

    /// Subscribes the tenant's broadcast topic before the tenant's first connection here is used.
    pub(crate) async fn ensure_tenant_topic(&self, service: &NotificationService, tenant: &crate::domain::TenantId) {
        let topic = Topic::Tenant(tenant.clone());
        if self.topics.lock().contains(&topic) {
            return;
        }
        let call = self.bus.subscribe(&topic);
        match bounded(&*service.timer, self.timeout, call, crate::ports::BusError::Unavailable).await {
            Ok(()) => {
                self.topics.lock().insert(topic);
            }
            Err(_) => self.mark(vec![Dirty::Tenant(tenant.clone())]),
        }
    }
}

impl Cluster {
    /// Sends `n` to the user's connections on other nodes, if presence lists any; returns how many
    /// connections they hold, or `None` when there are none (or the outbox refused: queue instead).
    pub(crate) async fn forward_if_online(
        &self,
        service: &NotificationService,
        n: &Notification,
        key: &UserKey,
    ) -> Option<usize> {
        let located = self.locate(service, std::slice::from_ref(key)).await;
        let holders = located.remote.into_iter().next().flatten().filter(|h| !h.is_empty())?;
        let count = holders.iter().map(|h| h.connections).sum();
        let per_node = holders.into_iter().map(|h| (h.node_id, vec![key.user.clone()])).collect();
        if self.publish_to_nodes(n, per_node) {
            Some(count)
        } else {
            bump(&self.counters.overflow_queued, 1);
            None
        }
    }
}

impl NotificationService {
    pub(crate) fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// The cluster half of a user-targeted send: the users' connections on other nodes get it over
    /// the bus (counted in `delivered_to` by what presence says they hold). Returns the users left to
    /// queue: those held nowhere, those presence could not be asked about and were not reached here,
    /// and those whose bus message did not fit in the outbox.
    pub(crate) async fn route_to_nodes(
        &self,
        cluster: &Cluster,
        n: &Arc<Notification>,
        users: &[UserKey],
        to_queue: Vec<UserKey>,
        report: &mut crate::service::SendReport,
    ) -> Vec<UserKey> {
        let located = cluster.locate(self, users).await;
        let mut per_node: BTreeMap<NodeId, Vec<UserId>> = BTreeMap::new();
        let mut remote_users = std::collections::HashSet::new();
        let mut remote_connections = 0;
        for (user, holders) in users.iter().zip(located.remote) {
            for holder in holders.into_iter().flatten() {
                remote_connections += holder.connections;
                remote_users.insert(user.clone());
                per_node.entry(holder.node_id).or_default().push(user.user.clone());
            }
        }
        if per_node.is_empty() {
            return to_queue;
        }
        if cluster.publish_to_nodes(n, per_node) {
            report.delivered_to += remote_connections;
            to_queue.into_iter().filter(|u| !remote_users.contains(u)).collect()
        } else {
            // Not published: the users not reached here are queued instead (with a queue).
            let fallback = to_queue.iter().filter(|u| remote_users.contains(*u)).count();
            bump(&cluster.counters.overflow_queued, fallback as u64);
            to_queue
        }
    }
}

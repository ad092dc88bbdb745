//! A node's own work in cluster mode: joining (claiming its id), heartbeats, draining the outbox
//! into the bus, reading the bus, keeping presence counts and topic subscriptions in step with the
//! local registry, and the canary that proves the bus delivers.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::{bump, now_ms, Dirty};
use crate::domain::cluster::{Envelope, PresenceKey, Route, Topic};
use crate::domain::{ErrorChain, UserKey};
use crate::ports::{BusError, Heartbeat, PresenceError};
use crate::service::bounded::bounded;
use crate::service::NotificationService;

/// Bus messages published in one pipeline, at most.
const PUBLISH_BATCH: usize = 256;
/// Presence changes written in one pipeline, at most.
const RECONCILE_BATCH: usize = 4096;

impl NotificationService {
    /// Claims this node's id. A process of the same id that crashed holds it until its ttl runs out,
    /// so a claim refused is retried for one ttl and a bit: only a live holder outlasts that.
    ///
    /// # Errors
    /// [`PresenceError::NodeIdTaken`] when another live node holds the id; `Unavailable` when presence
    /// cannot be reached.
    pub async fn join_cluster(&self) -> Result<(), PresenceError> {
        let Some(cluster) = self.cluster.clone() else { return Ok(()) };
        let patience = cluster.ttl + cluster.ttl / 2 + Duration::from_millis(500);
        let started = std::time::Instant::now();
        loop {
            match cluster.presence.join(&cluster.node, cluster.ttl).await {
                Ok(incarnation) => {
                    // Connection ids carry the incarnation above bit 32 (below 2^53, exact in JSON
                    // numbers): unique across the cluster for 2^20 joins.
                    self.registry.set_id_base((incarnation % (1 << 20)) << 32);
                    cluster.heartbeat_at_ms.store(now_ms(), Ordering::Relaxed);
                    tracing::info!(node = %cluster.node, incarnation, "joined the cluster");
                    return Ok(());
                }
                Err(PresenceError::NodeIdTaken(node)) if started.elapsed() < patience => {
                    tracing::info!(%node, "node id held by another process (or one that crashed); waiting for its ttl");
                    self.timer.sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes this node out of presence at a clean shutdown, so that its users count as offline now
    /// rather than after the ttl.
    pub async fn leave_cluster(&self) {
        let Some(cluster) = &self.cluster else { return };
        let call = cluster.presence.leave(&cluster.node);
        if let Err(e) = bounded(&*self.timer, cluster.timeout, call, PresenceError::Unavailable).await {
            tracing::warn!(error = %ErrorChain(&e), "could not leave the cluster; the node expires after its ttl");
        }
    }

    /// Runs the node's cluster work until the future is dropped.
    pub async fn run_cluster(self: Arc<Self>) {
        let Some(cluster) = self.cluster.clone() else { return };
        let Some(mut stream) = cluster.bus.stream() else {
            tracing::error!("the cluster bus stream was taken already");
            return;
        };
        let node_topic = Topic::Node(cluster.node.clone());
        while let Err(e) = cluster.bus.subscribe(&node_topic).await {
            tracing::debug!(error = %ErrorChain(&e), "cannot subscribe this node's topic yet");
            self.timer.sleep(Duration::from_millis(200)).await;
        }
        cluster.topics.lock().insert(node_topic);
        let receive = async {
            while let Some(event) = stream.next().await {
                self.on_bus_event(event).await;
            }
        };
        futures_util::join!(receive, self.heartbeats(), self.publish_outbox(), self.reconcile(), self.canaries());
    }

    async fn heartbeats(&self) {
        let Some(cluster) = self.cluster.clone() else { return };
        let every = (cluster.ttl / 3).max(Duration::from_millis(100));
        loop {
            let connections = self.registry.connection_count();
            let call = cluster.presence.heartbeat(&cluster.node, connections, cluster.ttl);
            match bounded(&*self.timer, cluster.timeout, call, PresenceError::Unavailable).await {
                Ok(beat) => {
                    cluster.heartbeat_at_ms.store(now_ms(), Ordering::Relaxed);
                    if cluster.id_taken.swap(false, Ordering::Relaxed) {
                        tracing::info!("this node holds its id again");
                    }
                    if beat == Heartbeat::Retaken {
                        tracing::warn!("this node's presence had expired; writing its counts again");
                        cluster.mark_all();
                    }
                }
                Err(PresenceError::NodeIdTaken(node)) => {
                    cluster.id_taken.store(true, Ordering::Relaxed);
                    tracing::error!(%node, "another process holds this node's id; this node is not ready");
                }
                Err(e) => {
                    bump(&cluster.counters.presence_failures, 1);
                    tracing::debug!(error = %ErrorChain(&e), "presence heartbeat failed");
                }
            }
            // Message counts reach presence with the next heartbeat, not with every send.
            let sent: Vec<Dirty> = self.tenant_stats.take_changed().into_iter().map(Dirty::Tenant).collect();
            if !sent.is_empty() {
                cluster.mark(sent);
            }
            self.timer.sleep(every).await;
        }
    }

    async fn publish_outbox(&self) {
        let Some(cluster) = self.cluster.clone() else { return };
        loop {
            let batch = cluster.outbox.next_batch(PUBLISH_BATCH).await;
            let len = batch.len() as u64;
            let call = cluster.bus.publish(&batch);
            match bounded(&*self.timer, cluster.timeout, call, BusError::Unavailable).await {
                Ok(reached) => {
                    bump(&cluster.counters.published, len);
                    // A node topic nobody listens on: the node died (or lost its subscription) before
                    // presence noticed. Its users' messages are queued rather than lost.
                    let unheard: Vec<_> = batch
                        .into_iter()
                        .zip(reached.into_iter().chain(std::iter::repeat(1)))
                        .filter(|((topic, _), reached)| *reached == 0 && matches!(topic, Topic::Node(_)))
                        .map(|(message, _)| message)
                        .collect();
                    if !unheard.is_empty() {
                        bump(&cluster.counters.unheard, unheard.len() as u64);
                        self.queue_unpublished(unheard).await;
                    }
                }
                Err(e) => {
                    bump(&cluster.counters.publish_failures, len);
                    tracing::warn!(error = %ErrorChain(&e), messages = len, "could not publish to the cluster bus");
                    self.queue_unpublished(batch).await;
                }
            }
        }
    }

    /// User-targeted messages the bus would not take are queued for their users (with a queue):
    /// durable queues lose nothing to a bus outage. Channel and broadcast ones are lost (counted).
    async fn queue_unpublished(&self, batch: Vec<(Topic, bytes::Bytes)>) {
        if self.queue.is_none() {
            return;
        }
        for (_, payload) in batch {
            let Ok(envelope) = Envelope::decode(payload) else { continue };
            let Route::Users { ids } = envelope.route else { continue };
            let Ok(n) = crate::domain::Notification::decode(envelope.tenant.clone(), envelope.frame) else { continue };
            let n = Arc::new(n);
            let frame = crate::delivery::frame::notification_frame(&n);
            let outage = crate::service::bounded::Outage::default();
            for user in ids {
                let key = UserKey::new(envelope.tenant.clone(), user);
                self.queue_for(&n, &frame, &key, &outage, crate::service::send::Hop::Arrival).await;
            }
        }
    }

    /// Keeps presence counts and topic subscriptions in step with the registry, a batch at a time.
    async fn reconcile(&self) {
        let Some(cluster) = self.cluster.clone() else { return };
        loop {
            let mut dirty: HashSet<Dirty> = cluster.dirty.next_batch(RECONCILE_BATCH).await.into_iter().collect();
            if cluster.all_dirty.swap(false, Ordering::AcqRel) {
                dirty.extend(self.registry.user_keys().into_iter().map(Dirty::User));
                dirty.extend(self.registry.channel_keys().into_iter().map(|(t, c)| Dirty::Channel(t, c)));
                dirty.extend(self.registry.tenant_ids().into_iter().map(Dirty::Tenant));
            }
            if dirty.is_empty() {
                continue;
            }
            if let Err(retry) = self.reconcile_once(&dirty).await {
                cluster.mark(retry);
                self.timer.sleep(Duration::from_millis(200)).await;
            }
        }
    }

    async fn reconcile_once(&self, dirty: &HashSet<Dirty>) -> Result<(), Vec<Dirty>> {
        let Some(cluster) = self.cluster.clone() else { return Ok(()) };
        let mut counts = Vec::new();
        let mut retry = Vec::new();
        let tenants: HashSet<&crate::domain::TenantId> = dirty
            .iter()
            .map(|item| match item {
                Dirty::User(key) => &key.tenant,
                Dirty::Channel(tenant, _) | Dirty::Tenant(tenant) => tenant,
            })
            .collect();
        for tenant in tenants {
            counts.extend(self.tenant_measures(tenant));
        }
        for item in dirty {
            let (topic, wanted) = match item {
                Dirty::User(key) => {
                    counts.push((PresenceKey::User(key.clone()), self.registry.for_each_of_user(key, |_| {})));
                    continue;
                }
                Dirty::Channel(tenant, channel) => {
                    let n = self.registry.channel_subscribers(tenant, channel).unwrap_or(0);
                    counts.push((PresenceKey::Channel(tenant.clone(), channel.clone()), n));
                    (Topic::Channel(tenant.clone(), channel.clone()), n > 0)
                }
                Dirty::Tenant(tenant) => (Topic::Tenant(tenant.clone()), self.registry.tenant_has_connections(tenant)),
            };
            let has = cluster.topics.lock().contains(&topic);
            if has == wanted {
                continue;
            }
            // Subscribed before presence says the node has subscribers, so that whoever reads the count
            // and sends finds the node listening.
            let call = if wanted { cluster.bus.subscribe(&topic) } else { cluster.bus.unsubscribe(&topic) };
            match bounded(&*self.timer, cluster.timeout, call, BusError::Unavailable).await {
                Ok(()) => {
                    let mut topics = cluster.topics.lock();
                    if wanted {
                        topics.insert(topic);
                    } else {
                        topics.remove(&topic);
                    }
                }
                Err(_) => retry.push(item.clone()),
            }
        }
        let call = cluster.presence.set_counts(&cluster.node, &counts);
        if let Err(e) = bounded(&*self.timer, cluster.timeout, call, PresenceError::Unavailable).await {
            bump(&cluster.counters.presence_failures, 1);
            tracing::debug!(error = %ErrorChain(&e), "could not write presence counts; retrying");
            retry.extend(dirty.iter().cloned());
        }
        if retry.is_empty() {
            Ok(())
        } else {
            Err(retry)
        }
    }

    /// Sends this node a canary through the outbox and the bus; a subscription that stops carrying it
    /// back is dropped and made again.
    async fn canaries(&self) {
        let Some(cluster) = self.cluster.clone() else { return };
        let mut last_restart = now_ms();
        loop {
            let envelope = Envelope {
                origin: cluster.node.clone(),
                tenant: crate::domain::TenantId::default_tenant(),
                route: Route::Canary { stamp_ms: now_ms() },
                frame: bytes::Bytes::new(),
            };
            let _ = cluster.outbox.push_all(vec![(Topic::Node(cluster.node.clone()), envelope.encode())]);
            self.timer.sleep(cluster.canary_interval).await;
            let deadline = i64::try_from(cluster.canary_deadline().as_millis()).unwrap_or(i64::MAX);
            let now = now_ms();
            if cluster.bus.is_subscribed()
                && now - cluster.canary_at_ms.load(Ordering::Relaxed) > deadline
                && now - last_restart > deadline
            {
                tracing::warn!("no canary came back through the cluster bus; resubscribing");
                last_restart = now;
                cluster.bus.resubscribe();
            }
        }
    }
}

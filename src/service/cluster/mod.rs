//! Cluster mode: several nodes serve one user base through a presence store (who is online where)
//! and a bus (messages between nodes). This module is the cluster half of the use cases: the node's
//! state and counters here, routing on the send path in `route`, what arrives from other nodes in
//! `inbound`, the node's background work in `tasks`, and what operators ask in `queries`.
//!
//! Promises (docs/CLUSTER.md says more):
//! - a user-targeted send reaches the user's connections on every node presence lists, once each;
//!   a user listed nowhere is queued, under a cluster-wide lease on the user that a connecting
//!   device's replay also takes, so nothing is queued after the replay that should have carried it;
//! - a channel or broadcast send is published once per topic, and only nodes with local interest
//!   subscribe: each subscriber gets it once (at most once, like on one node);
//! - local delivery never waits on the bus: bus messages go through a bounded outbox; what does not
//!   fit is counted, and user-targeted ones are queued instead when a queue is configured.

mod inbound;
pub mod outbox;
mod queries;
mod route;
mod tasks;
mod tenant_totals;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use uuid::Uuid;

use crate::domain::cluster::{NodeId, Topic};
use crate::domain::{ChannelName, TenantId, UserKey};
use crate::ports::{DynClusterBus, DynPresence};
use outbox::Outbox;

pub use queries::{ClusterSnapshot, ClusterStatus};

/// What the app configures cluster mode with.
pub struct ClusterConfig {
    pub node: NodeId,
    pub presence: DynPresence,
    pub bus: DynClusterBus,
    /// A node whose heartbeat is older is dead (`CLUSTER_NODE_TTL_SECONDS`).
    pub ttl: Duration,
    /// Bus messages waiting to be published, at most.
    pub outbound_capacity: usize,
    /// How often the node sends itself a canary through the bus.
    pub canary_interval: Duration,
    /// Bounds each presence call on the send and connect paths.
    pub timeout: Duration,
}

/// Something whose cluster-wide view may be stale after a local change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Dirty {
    User(UserKey),
    Channel(TenantId, ChannelName),
    Tenant(TenantId),
}

/// How many notification ids of multi-channel messages a node remembers, to deliver each once
/// although it arrives on every channel topic the node subscribes to.
const RECENT_IDS: usize = 4096;

#[derive(Default)]
struct RecentIds {
    order: VecDeque<Uuid>,
    set: HashSet<Uuid>,
}

impl RecentIds {
    /// False when `id` was seen already.
    fn first_time(&mut self, id: Uuid) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > RECENT_IDS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    published: AtomicU64,
    publish_failures: AtomicU64,
    /// Messages to a node topic that nobody subscribed to.
    unheard: AtomicU64,
    overflow: AtomicU64,
    overflow_queued: AtomicU64,
    received: AtomicU64,
    malformed: AtomicU64,
    presence_failures: AtomicU64,
    resubscriptions: AtomicU64,
    trigger_claimed: AtomicU64,
    trigger_skipped: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

pub struct Cluster {
    node: NodeId,
    presence: DynPresence,
    bus: DynClusterBus,
    ttl: Duration,
    canary_interval: Duration,
    timeout: Duration,
    outbox: Outbox<(Topic, Bytes)>,
    dirty: Outbox<Dirty>,
    /// Set when changes were dropped (the dirty list was full) or presence may have lost the node's
    /// counts: the reconciler then writes everything again.
    all_dirty: AtomicBool,
    topics: Mutex<HashSet<Topic>>,
    recent: Mutex<RecentIds>,
    /// Per Pub/Sub message hash: how many times this node saw it within the window, and when last.
    trigger_seen: Mutex<HashMap<u64, (u32, i64)>>,
    counters: Counters,
    /// Unix ms of the last canary that came back, and of the last heartbeat presence took.
    canary_at_ms: AtomicI64,
    heartbeat_at_ms: AtomicI64,
    /// Another process holds this node id.
    id_taken: AtomicBool,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Cluster {
    pub fn new(config: ClusterConfig) -> Self {
        let started = now_ms();
        Self {
            node: config.node,
            presence: config.presence,
            bus: config.bus,
            ttl: config.ttl,
            canary_interval: config.canary_interval,
            timeout: config.timeout,
            outbox: Outbox::new(config.outbound_capacity),
            dirty: Outbox::new(1 << 20),
            all_dirty: AtomicBool::new(false),
            topics: Mutex::new(HashSet::new()),
            recent: Mutex::new(RecentIds::default()),
            trigger_seen: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            // A fresh node gets one deadline to prove its bus and heartbeat.
            canary_at_ms: AtomicI64::new(started),
            heartbeat_at_ms: AtomicI64::new(started),
            id_taken: AtomicBool::new(false),
        }
    }

    pub fn node(&self) -> &NodeId {
        &self.node
    }

    pub fn presence(&self) -> &DynPresence {
        &self.presence
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// What the other nodes among `holders` hold, added up (this node's own part is read locally).
    pub(crate) fn elsewhere(&self, holders: &[crate::domain::cluster::NodeCount]) -> usize {
        holders.iter().filter(|h| h.node_id != self.node).map(|h| h.connections).sum()
    }

    pub(crate) fn mark(&self, items: Vec<Dirty>) {
        if self.dirty.push_all(items).is_err() {
            self.all_dirty.store(true, Ordering::Release);
            // Wakes the reconciler, which then rewrites everything.
            self.dirty.wake();
        }
    }

    /// Has the reconciler write every count and topic again.
    pub(crate) fn mark_all(&self) {
        self.all_dirty.store(true, Ordering::Release);
        self.dirty.wake();
    }

    /// How long without the canary before the bus counts as lost: three missed canaries.
    pub fn canary_deadline(&self) -> Duration {
        self.canary_interval * 3
    }

    fn canary_age_ms(&self) -> u64 {
        u64::try_from(now_ms() - self.canary_at_ms.load(Ordering::Relaxed)).unwrap_or(0)
    }

    fn heartbeat_age_ms(&self) -> u64 {
        u64::try_from(now_ms() - self.heartbeat_at_ms.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// Whether this node can deliver across the cluster now: its bus subscription carried its own
    /// canary back within the deadline, presence took its heartbeat within the ttl, and its id is
    /// its own.
    pub fn is_ready(&self) -> bool {
        self.bus.is_subscribed()
            && u128::from(self.canary_age_ms()) <= self.canary_deadline().as_millis()
            && u128::from(self.heartbeat_age_ms()) <= self.ttl.as_millis()
            && !self.id_taken.load(Ordering::Relaxed)
    }
}

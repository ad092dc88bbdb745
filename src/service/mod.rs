//! The use cases, and the one door to the delivery engine: every trigger (HTTP, Redis Pub/Sub) sends
//! through [`NotificationService::send_content`] or [`NotificationService::send`], every transport
//! (WebSocket, SSE) connects through [`NotificationService::connect`] and then acts through the
//! [`ConnectionHandle`] it gets, whose close or drop unregisters the connection. Nothing outside hands
//! out the registry or the dispatcher.
//!
//! Guarantees, per setting:
//! - queue off: at-most-once; offline users miss the notification.
//! - queue on: a user-targeted notification reaches a live connection, or waits in the queue (up to its
//!   ttl and the queue's limits) and is replayed, in order, to the connection that brings the user back
//!   online, before anything live. Entries leave the queue only once written to a socket, so a crash
//!   may replay an entry twice (same id), never lose it.
//! - ACK redelivery on: High/Critical notifications not acknowledged in time are sent again (live, or
//!   queued) with the same id, while younger than the queue ttl: at-least-once.
//!
//! Every store call is bounded by the store's timeout (see [`bounded`]), and the limits in force come
//! from the policy source when they are applied.

mod acks;
mod audit;
mod bounded;
pub mod cluster;
mod connect;
mod content;
mod lifetime;
mod queries;
mod revocation;
mod send;
mod target_spec;
pub mod templates;
mod tenant_rules;
pub mod tenants;
mod user_locks;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::delivery::{ConnectionRegistry, DeliveryStats, Dispatcher};
use crate::ports::{
    DynAckStore, DynClock, DynConnectionObserver, DynOfflineQueue, DynPolicySource, DynTimer, DynTokenVerifier,
};

pub use crate::delivery::{DeliverySnapshot, RegisterError, SubscribeError};
pub use crate::delivery::{TokenCheck, TokenPolicy};
pub use acks::AckFailure;
pub use cluster::{ClusterConfig, ClusterSnapshot, ClusterStatus};
pub use connect::{ConnectError, ConnectionHandle};
pub use content::{PreparedSend, SendContentError};
pub use lifetime::RefreshError;
pub use queries::{ConnectionView, Counts, UserSubscriptions};
pub use revocation::{Closed, RevocationConfig};
pub use send::{SendError, SendReport};
pub use target_spec::TargetSpec;
pub use templates::{ContentSource, ResolveError, TemplateResolver};

/// The offline queue and the bound on each of its calls.
pub struct QueueConfig {
    pub store: DynOfflineQueue,
    /// Bounds every call to the store and the wait for a user's queue lock, so that a request never
    /// waits much longer than one store timeout, however many others wait for the same user.
    pub timeout: Duration,
}

pub struct AckConfig {
    pub store: DynAckStore,
    pub timeout_seconds: u32,
    pub redeliver: bool,
    /// Bounds every call to the store.
    pub store_timeout: Duration,
}

/// What every service needs, whatever stores it has.
pub struct ServiceParts {
    pub clock: DynClock,
    pub timer: DynTimer,
    pub policies: DynPolicySource,
    pub templates: Arc<TemplateResolver>,
    pub verifier: DynTokenVerifier,
}

pub struct NotificationService {
    registry: Arc<ConnectionRegistry>,
    dispatcher: Dispatcher,
    stats: Arc<DeliveryStats>,
    clock: DynClock,
    timer: DynTimer,
    policies: DynPolicySource,
    templates: Arc<TemplateResolver>,
    verifier: DynTokenVerifier,
    queue: Option<QueueConfig>,
    acks: Option<AckConfig>,
    observers: Vec<DynConnectionObserver>,
    locks: user_locks::UserLocks,
    /// Cluster mode's presence, bus and node state; `None` on a node on its own.
    cluster: Option<Arc<cluster::Cluster>>,
    /// Set once shutdown began: new connections are refused.
    closing: AtomicBool,
    token_policy: crate::delivery::TokenPolicy,
    revocations: Option<RevocationConfig>,
    revocation_cursor: revocation::RevocationCursor,
    private_channels: crate::domain::PrivateChannels,
    audit: Option<crate::ports::DynAuditLog>,
    /// `None` unless `TENANT_ENABLED`: then every tenant is held to its status and quotas.
    tenants: Option<tenants::TenantRules>,
    tenant_stats: tenants::TenantStats,
}

impl NotificationService {
    pub fn new(parts: ServiceParts) -> Self {
        let registry = Arc::new(ConnectionRegistry::new());
        let stats = Arc::new(DeliveryStats::default());
        Self {
            dispatcher: Dispatcher::new(registry.clone(), stats.clone()),
            registry,
            stats,
            clock: parts.clock,
            timer: parts.timer,
            policies: parts.policies,
            templates: parts.templates,
            verifier: parts.verifier,
            queue: None,
            acks: None,
            observers: Vec::new(),
            locks: user_locks::UserLocks::default(),
            cluster: None,
            closing: AtomicBool::new(false),
            token_policy: crate::delivery::TokenPolicy::default(),
            revocations: None,
            revocation_cursor: revocation::RevocationCursor::default(),
            private_channels: crate::domain::PrivateChannels::default(),
            audit: None,
            tenants: None,
            tenant_stats: tenants::TenantStats::default(),
        }
    }

    /// Which channels need authorization (`CHANNEL_PRIVATE_PREFIX`).
    pub fn with_private_channels(mut self, private: crate::domain::PrivateChannels) -> Self {
        self.private_channels = private;
        self
    }

    /// When connections hear that their token expires, and how long after `exp` they are closed.
    pub fn with_token_policy(mut self, policy: crate::delivery::TokenPolicy) -> Self {
        self.token_policy = policy;
        self
    }

    pub fn with_offline_queue(mut self, queue: QueueConfig) -> Self {
        self.queue = Some(queue);
        self
    }

    pub fn with_acks(mut self, acks: AckConfig) -> Self {
        self.acks = Some(acks);
        self
    }

    /// Turns cluster mode on: sends reach users and subscribers on every node, and the node must
    /// [`Self::join_cluster`] and [`Self::run_cluster`].
    pub fn with_cluster(mut self, config: cluster::ClusterConfig) -> Self {
        self.cluster = Some(Arc::new(cluster::Cluster::new(config)));
        self
    }

    /// Adds an observer of every connection's life (see `ports::observer`).
    pub fn with_observer(mut self, observer: DynConnectionObserver) -> Self {
        self.observers.push(observer);
        self
    }

    /// Holds every send and connect to its tenant's status and quotas (`TENANT_ENABLED`).
    pub fn with_tenants(mut self, rules: tenants::TenantRules) -> Self {
        self.tenants = Some(rules);
        self
    }

    /// The tenant directory when tenants are managed.
    pub fn tenant_directory(&self) -> Option<&crate::ports::DynTenantDirectory> {
        self.tenants.as_ref().map(|t| &t.directory)
    }

    pub fn templates(&self) -> &Arc<TemplateResolver> {
        &self.templates
    }
}

//! The traits the core needs from the world. Each is object-safe so that `app` picks an adapter at
//! run time and hands it around as `Arc<dyn Trait>`.

pub mod ack_store;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod cluster_bus;
pub mod connection;
pub mod diagnostics;
pub mod metrics;
pub mod observer;
pub mod offline_queue;
pub mod policy;
pub mod presence;
pub mod rate_limiter;
pub mod revocation;
pub mod template_store;
pub mod tenant_directory;
pub mod tenant_store;
pub mod timer;

/// What a port's error carries as its source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Data a store handed back that cannot be read, said in words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Garbled(pub String);

pub use ack_store::{AckError, AckStore, DynAckStore};
pub use audit::{AuditError, AuditLog, DynAuditLog};
pub use auth::{AuthError, DynTokenVerifier, TokenVerifier};
pub use clock::{Clock, DynClock, SystemClock};
pub use cluster_bus::{BusError, BusEvent, BusStream, ClusterBus, DynClusterBus};
pub use connection::{CloseReason, ConnectionSink, DynSink, FrameData, OutboundFrame, SinkError, TraceLink};
pub use diagnostics::{Diagnostic, DynDiagnostic, Report, Sample, StatsUnavailable, Status};
pub use metrics::{DynTransportMetrics, LatencyRecorder, TransportMetrics};
pub use observer::{ConnectionInfo, ConnectionObserver, DynConnectionObserver};
pub use offline_queue::{DynOfflineQueue, OfflineQueue, QueueError};
pub use policy::{DynPolicySource, PolicySource, RateQuotas};
pub use presence::{DynPresence, Heartbeat, LeaseToken, Presence, PresenceError};
pub use rate_limiter::{Decision, DynRateLimiter, Quota, RateLimitError, RateLimiter};
pub use revocation::{DynRevocationStore, Revocation, RevocationError, RevocationStore};
pub use template_store::{DynTemplateStore, TemplateStore, TemplateStoreError};
pub use tenant_directory::{DynTenantDirectory, TenantDirectory};
pub use tenant_store::{DynTenantStore, TenantStore, TenantStoreError};
pub use timer::{DynTimer, Sleep, Timer};

//! The delivery core: the registry of live connections and the dispatcher that resolves a target to
//! them. Written against the ports only, so every transport (WebSocket, SSE) and every trigger (HTTP,
//! Redis Pub/Sub) shares it.

pub mod dispatcher;
pub mod frame;
pub mod notify;
pub mod registry;
pub mod stats;
pub mod templates;
mod user_locks;

pub use dispatcher::{DispatchReport, Dispatcher};
pub use notify::{AckConfig, AckFailure, NotificationService, OfflineQueueConfig, SendError, SendReport};
pub use registry::{ConnectionEntry, ConnectionRegistry, Limits, RegisterError, SubscribeError, Transport};
pub use stats::DeliveryStats;
pub use templates::{ContentSource, ResolveError, TemplateResolver};

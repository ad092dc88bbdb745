//! The delivery core: the registry of live connections and the dispatcher that resolves a target to
//! them. Written against the ports only, so every transport (WebSocket, SSE) and every trigger (HTTP,
//! Redis Pub/Sub) shares it.

pub mod notify;
pub mod templates;
mod user_locks;

pub use crate::delivery::{
    ConnectionEntry, ConnectionRegistry, DeliveryStats, DispatchReport, Dispatcher, Limits, RegisterError,
    SubscribeError, Transport,
};
pub use notify::{AckConfig, AckFailure, NotificationService, OfflineQueueConfig, SendError, SendReport};
pub use templates::{ContentSource, ResolveError, TemplateResolver};

//! The traits the core needs from the world. Each is object-safe so that `app` picks an adapter at
//! run time and hands it around as `Arc<dyn Trait>`.

pub mod ack_store;
pub mod clock;
pub mod connection;
pub mod offline_queue;
pub mod rate_limiter;
pub mod template_store;
pub mod timer;

pub use ack_store::{AckError, AckStore, DynAckStore};
pub use clock::{Clock, DynClock, SystemClock};
pub use connection::{CloseReason, ConnectionSink, DynSink, FrameData, OutboundFrame, SinkError, TraceLink};
pub use offline_queue::{DynOfflineQueue, OfflineQueue, QueueError};
pub use rate_limiter::{Decision, DynRateLimiter, Quota, RateLimitError, RateLimiter};
pub use template_store::{DynTemplateStore, TemplateStore, TemplateStoreError};
pub use timer::{DynTimer, Sleep, Timer};

//! The node-local delivery engine: the registry of live connections, the dispatcher that resolves a
//! target to them and hands each the same pre-serialized frame, the bounded per-connection queues,
//! and the counters they keep. Nothing here waits on a socket or a store; the use cases in
//! `crate::service` drive it, and transports reach it only through them.

pub mod connection_queue;
pub mod dispatcher;
pub mod frame;
pub mod registry;
pub mod stats;
pub mod token_slot;

pub use connection_queue::{connection_queue, CloseWatch, ConnectionQueue, Next, QueueReceiver, SlowConsumerPolicy};
pub use dispatcher::{DispatchReport, Dispatcher};
pub use registry::{ConnectionEntry, ConnectionRegistry, Limits, RegisterError, SubscribeError, Transport};
pub use stats::{DeliverySnapshot, DeliveryStats};
pub use token_slot::{TokenCheck, TokenPolicy, TokenSlot};

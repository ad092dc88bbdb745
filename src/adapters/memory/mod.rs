//! In-memory stores: the zero-set-up defaults. They keep nothing across a restart.

mod ack_store;
mod audit_log;
mod cluster_bus;
mod offline_queue;
mod presence;
mod revocation_store;
mod template_store;
mod tenant_store;

pub use ack_store::{MemoryAckStore, DEFAULT_MAX_RECORDS as DEFAULT_MAX_ACK_RECORDS};
pub use audit_log::{LoggedAuditLog, MemoryAuditLog};
pub use cluster_bus::MemoryBus;
pub use offline_queue::MemoryOfflineQueue;
pub use presence::MemoryPresence;
pub use revocation_store::MemoryRevocationStore;
pub use template_store::MemoryTemplateStore;
pub use tenant_store::MemoryTenantStore;

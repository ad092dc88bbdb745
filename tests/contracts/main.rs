//! One contract suite per port, run against every adapter of it (see each module), in one binary.

// Fresh Postgres databases and Redis prefixes per test, shared with the end-to-end suite.
mod suite;
#[allow(dead_code)]
#[path = "../support_backends/mod.rs"]
mod support_backends;

mod ack_store;
mod audit_log;
mod cluster_bus;
mod offline_queue;
mod presence;
mod rate_limiter;
#[allow(dead_code)]
#[path = "../support/redis_cluster.rs"]
mod redis_cluster;
mod redis_cluster_bus;
mod redis_cluster_layout;
mod revocation_store;
mod template_store;
mod tenant_store;

//! Redis stores: the offline queue and the ACK store, for deployments with several nodes or restarts
//! that must keep what was queued. Also the Pub/Sub trigger (`pubsub`) and the shared connection with
//! a circuit breaker (`ResilientRedis`) that the stores and the distributed rate limiter use: every
//! call is bounded by `REDIS_TIMEOUT_MS` and fails at once while the breaker is open.
//!
//! Every key lives under a caller-chosen prefix. On Redis Cluster (`REDIS_CLUSTER=true`) keys that a
//! script uses together share a hash tag, and per-user data spreads over buckets (see `keys`).

mod ack_store;
mod backoff;
pub mod breaker;
pub mod cluster_bus;
mod connection;
mod diagnostics;
mod keys;
mod offline_queue;
mod presence;
pub mod pubsub;
mod pubsub_message;
mod rate_limiter;
mod resilient;
mod revocation_store;
mod subscription;
pub mod tls;

use redis::RedisError;
use thiserror::Error;

pub use ack_store::RedisAckStore;
pub use cluster_bus::{BusSettings, RedisBus};
pub use connection::{ClusterSeeds, RedisConnection, RedisTarget};
pub use diagnostics::{PubSubDiagnostic, RedisDiagnostic};
pub use keys::{KeyLayout, CLUSTER_BUCKETS};
pub use offline_queue::RedisOfflineQueue;
pub use presence::RedisPresence;
pub use pubsub_message::{parse as parse_pubsub_message, MessageError};
pub use rate_limiter::RedisRateLimiter;
pub use resilient::{ConnectionStats, RedisCallError, ResilienceSettings, ResilientRedis};
pub use revocation_store::RedisRevocationStore;

/// Why a Redis store could not be opened. The URL is never echoed: it may carry a password.
#[derive(Debug, Error)]
pub enum RedisConnectError {
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(#[source] RedisError),
    #[error("cannot reach Redis at {addr}: {source}")]
    Unreachable {
        addr: String,
        #[source]
        source: RedisCallError,
    },
    #[error(transparent)]
    Tls(#[from] tls::RedisTlsError),
}

/// Timestamps are stored as microseconds since the epoch: exact in a Lua number (below 2^53) and as
/// precise as the Postgres adapter, so every backend agrees on what "expired" means.
fn micros(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_micros()
}

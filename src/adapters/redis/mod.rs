//! Redis stores: the offline queue and the ACK store, for deployments with several nodes or restarts
//! that must keep what was queued. Also the Pub/Sub trigger (`pubsub`) and the shared connection with
//! a circuit breaker (`ResilientRedis`) used by the distributed rate limiter.
//!
//! Every key lives under a caller-chosen prefix. Scripts touch keys they derive from that prefix, so
//! on Redis Cluster the prefix must be a hash tag (e.g. `{ara}`) to keep all keys in one slot.

mod ack_store;
mod backoff;
pub mod breaker;
mod offline_queue;
pub mod pubsub;
mod pubsub_message;
mod resilient;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::RedisError;
use thiserror::Error;

pub use ack_store::RedisAckStore;
pub use offline_queue::RedisOfflineQueue;
pub use pubsub_message::{parse as parse_pubsub_message, MessageError};
pub use resilient::{ConnectionStats, RedisCallError, ResilienceSettings, ResilientRedis};

/// How long `connect` waits for a first answer before giving up on an unreachable server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Bounds every command, so that a stalled server surfaces as an error rather than a hung request.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a Redis store could not be opened. The URL is never echoed: it may carry a password.
#[derive(Debug, Error)]
pub enum RedisConnectError {
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(#[source] RedisError),
    #[error("cannot connect to Redis at {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: RedisError,
    },
    #[error("no answer from Redis at {addr} within {}s", CONNECT_TIMEOUT.as_secs())]
    Timeout { addr: String },
}

/// Opens a self-reconnecting connection and proves the server answers (a PING) before returning.
async fn connect_manager(url: &str) -> Result<ConnectionManager, RedisConnectError> {
    let client = redis::Client::open(url).map_err(RedisConnectError::InvalidUrl)?;
    let addr = client.get_connection_info().addr.to_string();
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(RESPONSE_TIMEOUT)
        // One retry after about a second: enough for a blip, and short enough that an unreachable
        // server surfaces as its own error (e.g. "connection refused") within CONNECT_TIMEOUT. A
        // command that finds the connection broken fails and the next one reconnects.
        .set_number_of_retries(1);
    let attempt = async {
        let mut manager = ConnectionManager::new_with_config(client, config).await?;
        redis::cmd("PING").query_async::<()>(&mut manager).await.map(|()| manager)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(manager)) => Ok(manager),
        Ok(Err(source)) => Err(RedisConnectError::Connect { addr, source }),
        Err(_) => Err(RedisConnectError::Timeout { addr }),
    }
}

/// Timestamps are stored as microseconds since the epoch: exact in a Lua number (below 2^53) and as
/// precise as the Postgres adapter, so every backend agrees on what "expired" means.
fn micros(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_micros()
}

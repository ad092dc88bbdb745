//! The limits and tuning that govern connections, looked up when they are used (through the
//! `PolicySource` port) rather than copied into the parts that apply them, so that they can differ
//! per tenant and change while Ara runs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a connection whose outbound queue is full gets (`WEBSOCKET_SLOW_CONSUMER_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlowConsumerPolicy {
    /// Closed with a `SLOW_CONSUMER` error (the default): the client reconnects and, for user
    /// notifications, misses nothing the queue or ACK redelivery keeps.
    #[default]
    Disconnect,
    /// Kept open; the oldest queued frames make room and the client is told how many it lost with a
    /// `dropped` frame.
    DropOldest,
}

/// How many connections may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// On this node, all tenants together.
    pub max_connections: usize,
    /// On this node, one tenant's connections (`None`: only the node's limit applies).
    pub max_tenant_connections: Option<usize>,
    pub max_connections_per_user: usize,
    pub max_subscriptions_per_connection: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_tenant_connections: None,
            max_connections_per_user: 5,
            max_subscriptions_per_connection: 50,
        }
    }
}

/// How one connection is run, read when it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionPolicy {
    /// Frames a connection may have waiting before it counts as a slow consumer.
    pub outbound_queue_size: usize,
    pub slow_consumer: SlowConsumerPolicy,
    pub heartbeat_interval: Duration,
    /// Silence (not even a pong) after which the connection is closed.
    pub idle_timeout: Duration,
    /// A socket that takes nothing this long marks a slow consumer.
    pub write_timeout: Duration,
    /// Largest client frame accepted.
    pub max_message_bytes: usize,
}

impl Default for ConnectionPolicy {
    fn default() -> Self {
        Self {
            outbound_queue_size: 1024,
            slow_consumer: SlowConsumerPolicy::Disconnect,
            heartbeat_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            write_timeout: Duration::from_secs(10),
            max_message_bytes: 64 * 1024,
        }
    }
}

//! The cluster bus: messages between nodes, published to a topic (one node, or every node
//! interested in a channel or tenant) and received as one stream per node.
//!
//! Contract (checked by `tests/contracts/cluster_bus.rs` against every adapter):
//! - once `subscribe(topic)` returned `Ok`, every message published to the topic afterwards reaches
//!   the stream, once, in the order one publisher published them; after `unsubscribe` none does;
//! - `publish` returns once the bus took the messages, never waiting for a receiver, with how many
//!   subscribers each reached: 0 for a topic nobody subscribes to (which swallows it) — for a node's
//!   own topic, the node is not listening;
//! - at most once: a message published while the subscription is being re-established is lost, and
//!   the stream then yields [`BusEvent::Resubscribed`] so that the receiver knows;
//! - `stream` hands out the node's one stream the first time and `None` after.

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use thiserror::Error;

use super::BoxError;
use crate::domain::cluster::Topic;

#[derive(Debug, Error)]
pub enum BusError {
    /// The bus cannot be reached (connection lost, timeout, breaker open); retrying may help.
    #[error("the cluster bus is unavailable")]
    Unavailable(#[source] BoxError),
    /// The bus answered, but not as expected.
    #[error("the cluster bus failed")]
    Unexpected(#[source] BoxError),
}

#[derive(Debug, Clone, PartialEq)]
pub enum BusEvent {
    Message {
        topic: String,
        payload: Bytes,
    },
    /// The subscription was lost and is back, with every topic subscribed again.
    Resubscribed,
}

pub type BusStream = Pin<Box<dyn Stream<Item = BusEvent> + Send>>;

#[async_trait]
pub trait ClusterBus: Send + Sync {
    /// Publishes each message to its topic, in order; returns how many subscribers each reached.
    async fn publish(&self, batch: &[(Topic, Bytes)]) -> Result<Vec<usize>, BusError>;

    /// Receives what is published to `topic` from now on (idempotent).
    async fn subscribe(&self, topic: &Topic) -> Result<(), BusError>;

    /// Stops receiving `topic` (idempotent).
    async fn unsubscribe(&self, topic: &Topic) -> Result<(), BusError>;

    /// Drops the subscription and subscribes again (a receiver that stopped hearing itself asks this).
    fn resubscribe(&self);

    /// Whether the subscription is up now.
    fn is_subscribed(&self) -> bool;

    /// The node's one stream of received messages.
    fn stream(&self) -> Option<BusStream>;
}

pub type DynClusterBus = Arc<dyn ClusterBus>;

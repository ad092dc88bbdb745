//! Cluster presence: which nodes are alive, and how many connections (or channel subscribers) each
//! node holds per key, tenant-scoped. The one cluster-wide truth for "is this user online".
//!
//! Contract (checked by `tests/contracts/presence.rs` against every adapter):
//! - `join` claims a node id for the calling process and returns an incarnation number no other
//!   join of the same store ever returned; it MUST return [`PresenceError::NodeIdTaken`] while
//!   another process holds the id with an unexpired heartbeat.
//! - `heartbeat` keeps the node alive for `ttl` from now and records its connection count; it MUST
//!   return `NodeIdTaken` when the claim was lost to another process (the id expired and was taken).
//! - a node whose heartbeat is older than its ttl is dead: `nodes` leaves it out and `counts` never
//!   reports it (no ghosts after a crash, whether or not the node ever calls `leave`).
//! - `set_count(node, key, 0)` removes the node from the key; `counts` returns only live nodes with a
//!   count above 0, sorted by node id.
//! - `lock` is a lease: at most one holder per key until `unlock` or until `hold` runs out; it
//!   returns `None` (not an error) when someone else holds it.
//! - `claim` returns true for exactly one caller per name within `window`.
//! - `names_held(prefix)` lists, sorted and once each, the names of the keys starting with `prefix`
//!   that a live node counts above 0, and no other.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

use super::BoxError;
use crate::domain::cluster::{NodeCount, NodeId, NodeStatus, PresenceKey};

#[derive(Debug, Error)]
pub enum PresenceError {
    #[error("node id {0} is held by another live node")]
    NodeIdTaken(NodeId),
    /// The store cannot be reached (connection lost, timeout, breaker open).
    #[error("the presence store is unavailable")]
    Unavailable(#[source] BoxError),
    /// The store answered, but not as expected.
    #[error("the presence store failed")]
    Unexpected(#[source] BoxError),
}

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// The node was alive and stays so.
    Kept,
    /// The node's claim had lapsed (a long pause, an outage) and was taken back: other nodes may have
    /// swept its counts meanwhile, so the caller writes them again.
    Retaken,
}

/// Proof of holding a [`Presence::lock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseToken(pub String);

#[async_trait]
pub trait Presence: Send + Sync {
    /// Claims `node` for this process, alive for `ttl`; returns its incarnation number.
    async fn join(&self, node: &NodeId, ttl: Duration) -> Result<u64, PresenceError>;

    /// Keeps `node` alive for `ttl` from now, with its live connection count.
    async fn heartbeat(&self, node: &NodeId, connections: usize, ttl: Duration) -> Result<Heartbeat, PresenceError>;

    /// Takes `node` and everything it counted out at once (a clean shutdown).
    async fn leave(&self, node: &NodeId) -> Result<(), PresenceError>;

    /// The live nodes, sorted by id.
    async fn nodes(&self) -> Result<Vec<NodeStatus>, PresenceError>;

    /// Sets what `node` holds of each key (0 removes it).
    async fn set_counts(&self, node: &NodeId, counts: &[(PresenceKey, usize)]) -> Result<(), PresenceError>;

    /// For each key, in order, the live nodes holding it.
    async fn counts(&self, keys: &[PresenceKey]) -> Result<Vec<Vec<NodeCount>>, PresenceError>;

    /// Tries once to take the lease on `key` for `hold`.
    async fn lock(&self, key: &PresenceKey, hold: Duration) -> Result<Option<LeaseToken>, PresenceError>;

    /// Gives the lease back (a lease already expired or taken by another is left alone).
    async fn unlock(&self, key: &PresenceKey, token: &LeaseToken) -> Result<(), PresenceError>;

    /// True for the first caller of `name` within `window`, false for every other.
    async fn claim(&self, name: &str, window: Duration) -> Result<bool, PresenceError>;

    /// The names ([`PresenceKey::name`]) starting with `prefix` of the keys some live node counts.
    async fn names_held(&self, prefix: &str) -> Result<Vec<String>, PresenceError>;
}

pub type DynPresence = Arc<dyn Presence>;

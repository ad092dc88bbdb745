//! Per-user storage of notifications for users with no live connection.
//!
//! Contract (checked by `tests/contracts/offline_queue.rs` against every adapter):
//! - entries are kept per `UserKey` (tenant + user) in FIFO order of `enqueue`;
//! - beyond the `max_per_user` given with each `enqueue` (the tenant's `QueuePolicy`, looked up by the
//!   caller) the oldest entries are dropped and counted;
//! - expired entries are never returned by `peek` and are removed by `purge_expired`;
//! - `purge_tenant` removes all of one tenant's queues and none of another's;
//! - `peek` does not remove: callers `remove` exactly the ids they wrote to a socket, so a crash
//!   between reading and writing loses nothing (delivery from the queue is at-least-once).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;
use uuid::Uuid;

use super::{BoxError, Garbled};
use crate::domain::queue::{QueueStats, QueuedNotification};
use crate::domain::{TenantId, UserKey};

#[derive(Debug, Error)]
pub enum QueueError {
    /// The store cannot be reached (connection refused or lost, timeout, breaker open); retrying may
    /// help.
    #[error("the offline queue store is unavailable")]
    Unavailable(#[source] BoxError),
    /// The store answered with data it cannot read back.
    #[error("the offline queue store returned data it cannot read")]
    Corrupt(#[source] BoxError),
    /// The store answered, but not as expected (a refused statement or script).
    #[error("the offline queue store failed")]
    Unexpected(#[source] BoxError),
}

impl QueueError {
    pub fn corrupt(what: impl Into<String>) -> Self {
        QueueError::Corrupt(Box::new(Garbled(what.into())))
    }
}

#[async_trait]
pub trait OfflineQueue: Send + Sync {
    /// Appends `item` to the user's queue, keeping at most `max_per_user` entries; returns how many old
    /// entries were dropped to make room.
    async fn enqueue(&self, user: &UserKey, item: &QueuedNotification, max_per_user: usize) -> Result<u64, QueueError>;

    /// Returns up to `limit` unexpired entries of the user's queue, oldest first, without removing them.
    async fn peek(
        &self,
        user: &UserKey,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedNotification>, QueueError>;

    /// Removes the given ids from the user's queue (ids not present are ignored); returns how many went.
    async fn remove(&self, user: &UserKey, ids: &[Uuid]) -> Result<u64, QueueError>;

    /// Removes every expired entry of every user; returns how many went.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, QueueError>;

    /// Removes every entry of every user of `tenant` (a deleted tenant), and nothing of any other
    /// tenant; returns how many went.
    async fn purge_tenant(&self, tenant: &TenantId) -> Result<u64, QueueError>;

    async fn stats(&self) -> Result<QueueStats, QueueError>;

    async fn check_health(&self) -> Result<(), QueueError>;
}

pub type DynOfflineQueue = Arc<dyn OfflineQueue>;

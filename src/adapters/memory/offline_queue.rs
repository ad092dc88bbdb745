//! In-memory offline queue: one `VecDeque` per user in a sharded map.
//!
//! Every operation on one user's queue runs under that user's map entry lock, so an enqueue that
//! races a peek or a remove is neither lost nor reordered.

use std::collections::VecDeque;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use uuid::Uuid;

use crate::domain::queue::{QueueStats, QueuedNotification};
use crate::domain::{TenantId, UserKey};
use crate::ports::{OfflineQueue, QueueError};

#[derive(Debug, Default)]
pub struct MemoryOfflineQueue {
    queues: DashMap<UserKey, VecDeque<QueuedNotification>>,
}

impl MemoryOfflineQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops the user's entry once its queue is empty, so that `stats` counts only users who wait
    /// for something. `remove_if` re-checks under the shard lock, so a concurrent enqueue wins.
    fn forget_if_empty(&self, user: &UserKey) {
        self.queues.remove_if(user, |_, queue| queue.is_empty());
    }
}

#[async_trait]
impl OfflineQueue for MemoryOfflineQueue {
    async fn enqueue(&self, user: &UserKey, item: &QueuedNotification, max_per_user: usize) -> Result<u64, QueueError> {
        let mut queue = self.queues.entry(user.clone()).or_default();
        queue.push_back(item.clone());
        let excess = queue.len().saturating_sub(max_per_user);
        queue.drain(..excess);
        Ok(excess as u64)
    }

    async fn peek(
        &self,
        user: &UserKey,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedNotification>, QueueError> {
        let Some(queue) = self.queues.get(user) else {
            return Ok(Vec::new());
        };
        Ok(queue.iter().filter(|item| !item.is_expired(now)).take(limit).cloned().collect())
    }

    async fn remove(&self, user: &UserKey, ids: &[Uuid]) -> Result<u64, QueueError> {
        let removed = match self.queues.get_mut(user) {
            Some(mut queue) => {
                let before = queue.len();
                queue.retain(|item| !ids.contains(&item.notification.id));
                (before - queue.len()) as u64
            }
            None => return Ok(0),
        };
        self.forget_if_empty(user);
        Ok(removed)
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, QueueError> {
        let mut purged = 0u64;
        self.queues.retain(|_, queue| {
            let before = queue.len();
            queue.retain(|item| !item.is_expired(now));
            purged += (before - queue.len()) as u64;
            !queue.is_empty()
        });
        Ok(purged)
    }

    async fn purge_tenant(&self, tenant: &TenantId) -> Result<u64, QueueError> {
        let mut purged = 0u64;
        self.queues.retain(|key, queue| {
            if key.tenant != *tenant {
                return true;
            }
            purged += queue.len() as u64;
            false
        });
        Ok(purged)
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let mut stats = QueueStats::default();
        for queue in self.queues.iter() {
            if !queue.is_empty() {
                stats.queued_messages += queue.len() as u64;
                stats.users_with_queue += 1;
            }
        }
        Ok(stats)
    }

    async fn check_health(&self) -> Result<(), QueueError> {
        Ok(())
    }
}

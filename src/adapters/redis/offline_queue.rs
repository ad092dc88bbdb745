//! Redis offline queue: one list per user, oldest entry first, changed only by Lua scripts so that an
//! enqueue (with its overflow trim) is atomic and never interleaves with a remove or a purge.
//!
//! Keys: `<prefix>:oq:<tenant>:<user>` per user (tenant ids cannot contain `:`, so the split is
//! unambiguous) and `<prefix>:oq-registry`, the set of queue keys that `purge_expired` and `stats`
//! walk instead of scanning the whole keyspace. Entries are `<expires_at µs>|<id>|<json>` so that the
//! scripts can filter and remove by expiry and id without decoding JSON.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use redis::{RedisError, Script};
use uuid::Uuid;

use super::{connect_manager, micros};
use crate::domain::queue::{QueuePolicy, QueueStats, QueuedNotification};
use crate::domain::UserKey;
use crate::ports::{OfflineQueue, QueueError};

/// Queue keys handled per script call or pipeline while walking the registry.
const REGISTRY_BATCH: usize = 200;
/// Queue keys outlive their last entry's expiry by this much, so that `purge_expired` can still count
/// expired entries before Redis reclaims the key.
const KEY_TTL_GRACE_MS: i64 = 60_000;

pub struct RedisOfflineQueue {
    con: ConnectionManager,
    prefix: String,
    policy: QueuePolicy,
    enqueue: Script,
    peek: Script,
    remove: Script,
    purge: Script,
}

impl RedisOfflineQueue {
    /// Connects to `url` and checks that the server answers; fails within a few seconds otherwise.
    pub async fn connect(url: &str, key_prefix: &str, policy: QueuePolicy) -> Result<Self, QueueError> {
        let con = connect_manager(url).await.map_err(|e| QueueError::Unavailable(Box::new(e)))?;
        Ok(Self {
            con,
            prefix: key_prefix.to_owned(),
            policy,
            enqueue: Script::new(include_str!("scripts/queue_enqueue.lua")),
            peek: Script::new(include_str!("scripts/queue_peek.lua")),
            remove: Script::new(include_str!("scripts/queue_remove.lua")),
            purge: Script::new(include_str!("scripts/queue_purge.lua")),
        })
    }

    fn queue_key(&self, user: &UserKey) -> String {
        format!("{}:oq:{}:{}", self.prefix, user.tenant, user.user)
    }

    fn registry_key(&self) -> String {
        format!("{}:oq-registry", self.prefix)
    }

    /// One step of walking the registry: the next cursor (0 when done) and a batch of queue keys.
    async fn registry_batch(&self, cursor: u64) -> Result<(u64, Vec<String>), QueueError> {
        redis::cmd("SSCAN")
            .arg(self.registry_key())
            .arg(cursor)
            .arg("COUNT")
            .arg(REGISTRY_BATCH)
            .query_async(&mut self.con.clone())
            .await
            .map_err(unavailable)
    }
}

fn unavailable(e: RedisError) -> QueueError {
    QueueError::Unavailable(Box::new(e))
}

fn encode(item: &QueuedNotification) -> Result<String, QueueError> {
    let json =
        serde_json::to_string(item).map_err(|e| QueueError::Corrupt(format!("cannot encode queue entry: {e}")))?;
    Ok(format!("{}|{}|{}", micros(item.expires_at), item.notification.id.hyphenated(), json))
}

fn decode(entry: &str) -> Result<QueuedNotification, QueueError> {
    let json = entry
        .splitn(3, '|')
        .nth(2)
        .ok_or_else(|| QueueError::Corrupt("queue entry without its expiry|id| prefix".into()))?;
    serde_json::from_str(json).map_err(|e| QueueError::Corrupt(format!("queue entry: {e}")))
}

#[async_trait]
impl OfflineQueue for RedisOfflineQueue {
    async fn enqueue(&self, user: &UserKey, item: &QueuedNotification) -> Result<u64, QueueError> {
        let ttl_ms = (item.expires_at - item.enqueued_at).num_milliseconds().max(0) + KEY_TTL_GRACE_MS;
        self.enqueue
            .key(self.queue_key(user))
            .key(self.registry_key())
            .arg(encode(item)?)
            .arg(self.policy.max_per_user)
            .arg(ttl_ms)
            .invoke_async(&mut self.con.clone())
            .await
            .map_err(unavailable)
    }

    async fn peek(
        &self,
        user: &UserKey,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedNotification>, QueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let entries: Vec<String> = self
            .peek
            .key(self.queue_key(user))
            .arg(micros(now))
            .arg(limit)
            .invoke_async(&mut self.con.clone())
            .await
            .map_err(unavailable)?;
        entries.iter().map(|entry| decode(entry)).collect()
    }

    async fn remove(&self, user: &UserKey, ids: &[Uuid]) -> Result<u64, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut call = self.remove.key(self.queue_key(user));
        call.key(self.registry_key());
        for id in ids {
            call.arg(id.hyphenated().to_string());
        }
        call.invoke_async(&mut self.con.clone()).await.map_err(unavailable)
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, QueueError> {
        let mut purged = 0u64;
        let mut cursor = 0u64;
        loop {
            let (next, keys) = self.registry_batch(cursor).await?;
            if !keys.is_empty() {
                purged += self
                    .purge
                    .key(self.registry_key())
                    .key(keys)
                    .arg(micros(now))
                    .invoke_async::<u64>(&mut self.con.clone())
                    .await
                    .map_err(unavailable)?;
            }
            if next == 0 {
                return Ok(purged);
            }
            cursor = next;
        }
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let mut stats = QueueStats::default();
        let mut cursor = 0u64;
        loop {
            let (next, keys) = self.registry_batch(cursor).await?;
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.llen(key);
            }
            let lengths: Vec<u64> = if keys.is_empty() {
                Vec::new()
            } else {
                pipe.query_async(&mut self.con.clone()).await.map_err(unavailable)?
            };
            // Keys whose ttl ran out are still registered until the next purge; they count as empty.
            for len in lengths.into_iter().filter(|len| *len > 0) {
                stats.queued_messages += len;
                stats.users_with_queue += 1;
            }
            if next == 0 {
                return Ok(stats);
            }
            cursor = next;
        }
    }

    async fn check_health(&self) -> Result<(), QueueError> {
        redis::cmd("PING").query_async::<()>(&mut self.con.clone()).await.map_err(unavailable)
    }
}

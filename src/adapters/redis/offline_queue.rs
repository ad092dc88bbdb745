//! Redis offline queue: one list per user, oldest entry first, changed only by Lua scripts so that an
//! enqueue (with its overflow trim) is atomic and never interleaves with a remove or a purge.
//!
//! Keys: `<prefix>:oq:<tenant>:<user>` per user (tenant ids cannot contain `:`, so the split is
//! unambiguous) and `<prefix>:oq-registry`, the set of queue keys that `purge_expired` and `stats`
//! walk instead of scanning the whole keyspace. Entries are `<expires_at µs>|<id>|<enqueued_at µs>|
//! <frame>`, the frame being the notification's client JSON as written when it was accepted, so that
//! the scripts can filter and remove by expiry and id without decoding JSON.
//!
//! On Redis Cluster both names start with the user's bucket, `{<prefix>:<bucket>}` (see
//! [`super::keys`]): a user's queue and its bucket's registry share a slot, so every script stays in
//! one, and the users spread over the shards; `purge_expired` and `stats` walk every bucket.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::sync::Arc;

use redis::Script;
use uuid::Uuid;

use super::keys::KeyLayout;
use super::{micros, RedisCallError, RedisConnectError, ResilienceSettings, ResilientRedis};
use crate::domain::queue::{QueueStats, QueuedNotification};
use crate::domain::{Notification, TenantId, UserKey};
use crate::ports::{OfflineQueue, QueueError};

/// Queue keys handled per script call or pipeline while walking the registry.
const REGISTRY_BATCH: usize = 200;
/// Queue keys outlive their last entry's expiry by this much, so that `purge_expired` can still count
/// expired entries before Redis reclaims the key.
const KEY_TTL_GRACE_MS: i64 = 60_000;

pub struct RedisOfflineQueue {
    redis: Arc<ResilientRedis>,
    prefix: String,
    layout: KeyLayout,
    enqueue: Script,
    peek: Script,
    remove: Script,
    purge: Script,
    drop_queues: Script,
}

impl RedisOfflineQueue {
    /// A queue on the shared connection: every call goes through its breaker and timeout.
    pub fn new(redis: Arc<ResilientRedis>, key_prefix: &str) -> Self {
        Self {
            layout: redis.layout(),
            redis,
            prefix: key_prefix.to_owned(),
            enqueue: Script::new(include_str!("scripts/queue_enqueue.lua")),
            peek: Script::new(include_str!("scripts/queue_peek.lua")),
            remove: Script::new(include_str!("scripts/queue_remove.lua")),
            purge: Script::new(include_str!("scripts/queue_purge.lua")),
            drop_queues: Script::new(include_str!("scripts/queue_drop.lua")),
        }
    }

    /// Connects to `url` with the default timeout and breaker, and checks that the server answers.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, RedisConnectError> {
        let redis = ResilientRedis::connect_reachable(url, ResilienceSettings::default()).await?;
        Ok(Self::new(redis, key_prefix))
    }

    fn bucket(&self, user: &UserKey) -> u16 {
        self.layout.bucket_of(&[user.tenant.as_str().as_bytes(), user.user.as_str().as_bytes()])
    }

    fn queue_key(&self, user: &UserKey) -> String {
        let bucket = self.layout.bucket_prefix(&self.prefix, self.bucket(user));
        format!("{bucket}:oq:{}:{}", user.tenant, user.user)
    }

    fn registry_key(&self, bucket: u16) -> String {
        format!("{}:oq-registry", self.layout.bucket_prefix(&self.prefix, bucket))
    }

    /// One step of walking a bucket's registry: the next cursor (0 when done) and a batch of queue keys.
    async fn registry_batch(&self, bucket: u16, cursor: u64) -> Result<(u64, Vec<String>), QueueError> {
        let mut cmd = redis::cmd("SSCAN");
        cmd.arg(self.registry_key(bucket)).arg(cursor).arg("COUNT").arg(REGISTRY_BATCH);
        self.redis.call(|mut con| async move { cmd.query_async(&mut con).await }).await.map_err(unavailable)
    }
}

/// Redis out of reach (or the breaker open) is worth retrying; an error reply is not.
fn unavailable(e: RedisCallError) -> QueueError {
    if e.is_unavailable() {
        QueueError::Unavailable(Box::new(e))
    } else {
        QueueError::Unexpected(Box::new(e))
    }
}

/// `<expires_at µs>|<id>|<enqueued_at µs>|<frame>`: what the scripts filter on first, then the
/// notification's client frame as it was written when it was accepted.
fn encode(item: &QueuedNotification) -> Vec<u8> {
    let head =
        format!("{}|{}|{}|", micros(item.expires_at), item.notification.id.hyphenated(), micros(item.enqueued_at));
    let mut entry = Vec::with_capacity(head.len() + item.notification.frame().len());
    entry.extend_from_slice(head.as_bytes());
    entry.extend_from_slice(item.notification.frame());
    entry
}

fn decode(user: &UserKey, entry: &[u8]) -> Result<QueuedNotification, QueueError> {
    let corrupt = |why: &str| QueueError::corrupt(format!("queue entry: {why}"));
    let mut fields = entry.splitn(4, |b| *b == b'|');
    let (Some(expires), Some(_id), Some(enqueued), Some(frame)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(corrupt("not <expires>|<id>|<enqueued>|<frame>"));
    };
    let time = |raw: &[u8]| {
        std::str::from_utf8(raw).ok().and_then(|t| t.parse::<i64>().ok()).and_then(DateTime::from_timestamp_micros)
    };
    let (Some(expires_at), Some(enqueued_at)) = (time(expires), time(enqueued)) else {
        return Err(corrupt("unreadable times"));
    };
    let notification = Notification::decode(user.tenant.clone(), Bytes::copy_from_slice(frame))
        .map_err(|e| corrupt(&e.to_string()))?;
    Ok(QueuedNotification { notification: Arc::new(notification), enqueued_at, expires_at })
}

#[async_trait]
impl OfflineQueue for RedisOfflineQueue {
    async fn enqueue(&self, user: &UserKey, item: &QueuedNotification, max_per_user: usize) -> Result<u64, QueueError> {
        let ttl_ms = (item.expires_at - item.enqueued_at).num_milliseconds().max(0) + KEY_TTL_GRACE_MS;
        let mut call = self.enqueue.key(self.queue_key(user));
        call.key(self.registry_key(self.bucket(user))).arg(encode(item)).arg(max_per_user).arg(ttl_ms);
        self.redis.call(|mut con| async move { call.invoke_async(&mut con).await }).await.map_err(unavailable)
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
        let mut call = self.peek.key(self.queue_key(user));
        call.arg(micros(now)).arg(limit);
        let entries: Vec<Vec<u8>> =
            self.redis.call(|mut con| async move { call.invoke_async(&mut con).await }).await.map_err(unavailable)?;
        entries.iter().map(|entry| decode(user, entry)).collect()
    }

    async fn remove(&self, user: &UserKey, ids: &[Uuid]) -> Result<u64, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut call = self.remove.key(self.queue_key(user));
        call.key(self.registry_key(self.bucket(user)));
        for id in ids {
            call.arg(id.hyphenated().to_string());
        }
        self.redis.call(|mut con| async move { call.invoke_async(&mut con).await }).await.map_err(unavailable)
    }

    /// A bucket that fails (its shard away) does not keep the others from being swept; the first
    /// error is returned once every bucket was tried.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, QueueError> {
        let mut purged = 0u64;
        let mut first_error = None;
        for bucket in self.layout.buckets() {
            match self.purge_bucket(bucket, now).await {
                Ok(n) => purged += n,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(purged),
        }
    }

    async fn purge_tenant(&self, tenant: &TenantId) -> Result<u64, QueueError> {
        let mut purged = 0u64;
        for bucket in self.layout.buckets() {
            purged += self.purge_tenant_bucket(bucket, tenant).await?;
        }
        Ok(purged)
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let mut stats = QueueStats::default();
        for bucket in self.layout.buckets() {
            self.bucket_stats(bucket, &mut stats).await?;
        }
        Ok(stats)
    }

    async fn check_health(&self) -> Result<(), QueueError> {
        self.redis.ping().await.map_err(unavailable)
    }
}

impl RedisOfflineQueue {
    /// Drops the bucket's queues of `tenant`, found by name in its registry (`…:oq:<tenant>:<user>`).
    async fn purge_tenant_bucket(&self, bucket: u16, tenant: &TenantId) -> Result<u64, QueueError> {
        let start = format!("{}:oq:{tenant}:", self.layout.bucket_prefix(&self.prefix, bucket));
        self.sweep_bucket(bucket, &self.drop_queues, |key| key.starts_with(&start), None).await
    }

    async fn purge_bucket(&self, bucket: u16, now: DateTime<Utc>) -> Result<u64, QueueError> {
        self.sweep_bucket(bucket, &self.purge, |_| true, Some(micros(now))).await
    }

    /// Runs `script` over the bucket's registered queues that `pick` keeps, a registry batch at a
    /// time (KEYS: the registry, then the queues; ARGV: `arg` if any); returns its answers' sum.
    async fn sweep_bucket(
        &self,
        bucket: u16,
        script: &Script,
        pick: impl Fn(&str) -> bool,
        arg: Option<i64>,
    ) -> Result<u64, QueueError> {
        let mut swept = 0u64;
        let mut cursor = 0u64;
        loop {
            let (next, keys) = self.registry_batch(bucket, cursor).await?;
            let keys: Vec<String> = keys.into_iter().filter(|k| pick(k)).collect();
            if !keys.is_empty() {
                let mut call = script.key(self.registry_key(bucket));
                call.key(keys);
                if let Some(arg) = arg {
                    call.arg(arg);
                }
                swept += self
                    .redis
                    .call(|mut con| async move { call.invoke_async::<u64>(&mut con).await })
                    .await
                    .map_err(unavailable)?;
            }
            if next == 0 {
                return Ok(swept);
            }
            cursor = next;
        }
    }

    async fn bucket_stats(&self, bucket: u16, stats: &mut QueueStats) -> Result<(), QueueError> {
        let mut cursor = 0u64;
        loop {
            let (next, keys) = self.registry_batch(bucket, cursor).await?;
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.llen(key);
            }
            let lengths: Vec<u64> = if keys.is_empty() {
                Vec::new()
            } else {
                self.redis.call(|mut con| async move { pipe.query_async(&mut con).await }).await.map_err(unavailable)?
            };
            // Keys whose ttl ran out are still registered until the next purge; they count as empty.
            for len in lengths.into_iter().filter(|len| *len > 0) {
                stats.queued_messages += len;
                stats.users_with_queue += 1;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

//! Redis ACK store: one hash per notification id holding a record per (tenant, user) it was delivered
//! to, a sorted set of pending deadlines, and a hash of counters; Lua scripts keep `track`, `ack` and
//! `expire_due` atomic.
//!
//! Keys: `<prefix>:ack:id:<id>` (expires once the deadline and the marker retention have passed),
//! `<prefix>:ack:due` and `<prefix>:ack:stats`. Keeping every holder of an id in one hash is what lets
//! `ack` tell `WrongUser` from `UnknownNotification` in one look-up. Per holder the hash keeps
//! `m:<holder>` (status and times); once for all holders of a send it keeps `d`, the notification's
//! frame (for a redelivery), and `n`, how many holders are pending: the last one to be acknowledged or
//! to expire deletes both. A whole send is tracked in one script call.
//!
//! On Redis Cluster every name starts with the notification's bucket, `{<prefix>:<bucket>}` (see
//! [`super::keys`]), the bucket being a stable hash of the id: a record holds every user of one
//! send, so the id (not a user) is what decides its slot; the bucket's deadline index and counters
//! share it, so each script stays in one slot, and sends spread over the shards. `expire_due` and
//! `stats` walk every bucket.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

use redis::Script;
use uuid::Uuid;

use super::keys::KeyLayout;
use super::{micros, RedisCallError, RedisConnectError, ResilienceSettings, ResilientRedis};
use crate::domain::ack::{AckReceipt, AckStats, ExpiredAck, PendingAck};
use crate::domain::{Notification, Quoted, TenantId, UserId, UserKey};
use crate::ports::{AckError, AckStore};

/// Acknowledged and expired markers stay at least this long after the deadline (or one more ACK
/// timeout, if longer), so that a double or late ACK gets a precise error; same rule as in memory.
const MIN_MARKER_RETENTION: Duration = Duration::minutes(10);
/// `acknowledged`, `expired` and `ack_time_ms_total` of a bucket's counters hash, unset until counted.
type Counters = (Option<u64>, Option<u64>, Option<u64>);

/// Due records moved per `expire_due` script call, so that one call never blocks Redis for long.
const EXPIRE_BATCH: usize = 500;

pub struct RedisAckStore {
    redis: Arc<ResilientRedis>,
    prefix: String,
    layout: KeyLayout,
    track: Script,
    ack: Script,
    forget: Script,
    expire: Script,
}

impl RedisAckStore {
    /// An ACK store on the shared connection: every call goes through its breaker and timeout.
    pub fn new(redis: Arc<ResilientRedis>, key_prefix: &str) -> Self {
        Self {
            layout: redis.layout(),
            redis,
            prefix: key_prefix.to_owned(),
            track: Script::new(include_str!("scripts/ack_track.lua")),
            ack: Script::new(include_str!("scripts/ack_ack.lua")),
            forget: Script::new(include_str!("scripts/ack_forget.lua")),
            expire: Script::new(include_str!("scripts/ack_expire.lua")),
        }
    }

    /// Connects to `url` with the default timeout and breaker, and checks that the server answers.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, RedisConnectError> {
        let redis = ResilientRedis::connect_reachable(url, ResilienceSettings::default()).await?;
        Ok(Self::new(redis, key_prefix))
    }

    async fn run<T: redis::FromRedisValue>(&self, call: redis::ScriptInvocation<'_>) -> Result<T, AckError> {
        self.redis.call(|mut con| async move { call.invoke_async(&mut con).await }).await.map_err(unavailable)
    }

    fn bucket(&self, id: Uuid) -> u16 {
        self.layout.bucket_of(&[id.as_bytes()])
    }

    fn id_key_prefix(&self, bucket: u16) -> String {
        format!("{}:ack:id:", self.layout.bucket_prefix(&self.prefix, bucket))
    }

    fn id_key(&self, id: Uuid) -> String {
        format!("{}{}", self.id_key_prefix(self.bucket(id)), id.hyphenated())
    }

    fn due_key(&self, bucket: u16) -> String {
        format!("{}:ack:due", self.layout.bucket_prefix(&self.prefix, bucket))
    }

    fn stats_key(&self, bucket: u16) -> String {
        format!("{}:ack:stats", self.layout.bucket_prefix(&self.prefix, bucket))
    }

    async fn expire_bucket(
        &self,
        bucket: u16,
        now: DateTime<Utc>,
        expired: &mut Vec<ExpiredAck>,
    ) -> Result<(), AckError> {
        loop {
            let mut call = self.expire.key(self.due_key(bucket));
            call.key(self.stats_key(bucket)).arg(micros(now)).arg(EXPIRE_BATCH).arg(self.id_key_prefix(bucket));
            let (examined, flat): (usize, Vec<Vec<u8>>) = self.run(call).await?;
            for triple in flat.chunks_exact(3) {
                expired.push(expired_from(&triple[0], &triple[1], &triple[2])?);
            }
            if examined < EXPIRE_BATCH {
                return Ok(());
            }
        }
    }

    async fn bucket_stats(&self, bucket: u16) -> Result<(u64, u64, u64, u64), AckError> {
        let mut pipe = redis::pipe();
        pipe.zcard(self.due_key(bucket))
            .hget(self.stats_key(bucket), &["acknowledged", "expired", "ack_time_ms_total"]);
        let (pending, (acknowledged, expired, total_ms)): (u64, Counters) =
            self.redis.call(|mut con| async move { pipe.query_async(&mut con).await }).await.map_err(unavailable)?;
        Ok((pending, acknowledged.unwrap_or(0), expired.unwrap_or(0), total_ms.unwrap_or(0)))
    }
}

/// Redis out of reach (or the breaker open) is worth retrying; an error reply is not.
fn unavailable(e: RedisCallError) -> AckError {
    if e.is_unavailable() {
        AckError::Unavailable(Box::new(e))
    } else {
        AckError::Unexpected(Box::new(e))
    }
}

/// Tenant ids cannot contain `:`, so "<tenant>:<user>" splits back unambiguously.
fn holder(user: &UserKey) -> String {
    format!("{}:{}", user.tenant, user.user)
}

fn parse_holder(raw: &str) -> Result<UserKey, AckError> {
    let corrupt = || AckError::corrupt(format!("unreadable ACK holder {raw:?}"));
    let (tenant, user) = raw.split_once(':').ok_or_else(corrupt)?;
    let tenant = TenantId::parse(tenant).map_err(|_| corrupt())?;
    let user = UserId::parse(user).map_err(|_| corrupt())?;
    Ok(UserKey::new(tenant, user))
}

/// An expired record as the expiry script hands it back: its holder, its meta `e|<delivered µs>|
/// <deadline µs>` as it was before (`p|…`), and the notification's frame.
fn expired_from(holder: &[u8], meta: &[u8], frame: &[u8]) -> Result<ExpiredAck, AckError> {
    let text = |raw: &[u8]| String::from_utf8(raw.to_vec()).map_err(|e| AckError::corrupt(format!("ACK record: {e}")));
    let user = parse_holder(&text(holder)?)?;
    let meta = text(meta)?;
    let corrupt = || AckError::corrupt(format!("unreadable ACK meta {}", Quoted(&meta)));
    let mut parts =
        meta.splitn(3, '|').skip(1).map(|n| n.parse::<i64>().ok().and_then(DateTime::from_timestamp_micros));
    let (Some(Some(delivered_at)), Some(Some(deadline))) = (parts.next(), parts.next()) else {
        return Err(corrupt());
    };
    let notification = Notification::decode(user.tenant.clone(), Bytes::copy_from_slice(frame))
        .map_err(|e| AckError::corrupt(format!("tracked notification: {e}")))?;
    Ok(ExpiredAck { pending: PendingAck { notification: Arc::new(notification), delivered_at, deadline }, user })
}

fn due_member(user: &UserKey, id: Uuid) -> String {
    format!("{}:{}", id.hyphenated(), holder(user))
}

#[async_trait]
impl AckStore for RedisAckStore {
    async fn track(&self, pending: &PendingAck, users: &[UserKey]) -> Result<(), AckError> {
        if users.is_empty() {
            return Ok(());
        }
        let id = pending.notification.id;
        let (delivered, deadline) = (micros(pending.delivered_at), micros(pending.deadline));
        let timeout = pending.deadline - pending.delivered_at;
        let ttl = timeout + timeout.max(MIN_MARKER_RETENTION);
        let mut call = self.track.key(self.id_key(id));
        call.key(self.due_key(self.bucket(id)))
            .arg(format!("p|{delivered}|{deadline}"))
            .arg(pending.notification.frame().as_ref())
            .arg(deadline)
            .arg(ttl.num_milliseconds().max(1));
        for user in users {
            call.arg(holder(user)).arg(due_member(user, id));
        }
        self.run::<i64>(call).await?;
        Ok(())
    }

    async fn forget(&self, id: Uuid, users: &[UserKey]) -> Result<(), AckError> {
        if users.is_empty() {
            return Ok(());
        }
        let mut call = self.forget.key(self.id_key(id));
        call.key(self.due_key(self.bucket(id)));
        for user in users {
            call.arg(holder(user)).arg(due_member(user, id));
        }
        self.run::<i64>(call).await?;
        Ok(())
    }

    async fn ack(&self, user: &UserKey, id: Uuid, now: DateTime<Utc>) -> Result<AckReceipt, AckError> {
        let mut call = self.ack.key(self.id_key(id));
        let bucket = self.bucket(id);
        call.key(self.due_key(bucket))
            .key(self.stats_key(bucket))
            .arg(holder(user))
            .arg(due_member(user, id))
            .arg(micros(now));
        let outcome: i64 = self.run(call).await?;
        match outcome {
            -1 => Err(AckError::UnknownNotification),
            -2 => Err(AckError::WrongUser),
            -3 => Err(AckError::AlreadyAcknowledged),
            -4 => Err(AckError::Expired),
            latency if latency >= 0 => Ok(AckReceipt { notification_id: id, latency_ms: latency as u64 }),
            _ => Err(AckError::corrupt(format!("unreadable ACK record for {id}"))),
        }
    }

    /// A bucket that fails (its shard away) does not cost the others their sweep, and what earlier
    /// buckets moved to expired is returned, not dropped: those records left the due index already,
    /// so an error here would lose their redelivery. The failure is logged; the failed bucket's
    /// records stay due for the next sweep.
    async fn expire_due(&self, now: DateTime<Utc>) -> Result<Vec<ExpiredAck>, AckError> {
        let mut expired = Vec::new();
        let (mut failed, mut first_error) = (0usize, None);
        for bucket in self.layout.buckets() {
            if let Err(e) = self.expire_bucket(bucket, now, &mut expired).await {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) if expired.is_empty() => Err(e),
            Some(e) => {
                tracing::warn!(failed_buckets = failed, error = %crate::domain::ErrorChain(&e),
                    "some ACK buckets were not swept; they are tried again next time");
                Ok(expired)
            }
            None => Ok(expired),
        }
    }

    async fn stats(&self) -> Result<AckStats, AckError> {
        let (mut pending, mut acknowledged, mut expired, mut total_ms) = (0, 0, 0, 0);
        for bucket in self.layout.buckets() {
            let (p, a, e, t) = self.bucket_stats(bucket).await?;
            (pending, acknowledged, expired, total_ms) = (pending + p, acknowledged + a, expired + e, total_ms + t);
        }
        Ok(AckStats {
            pending,
            acknowledged,
            expired,
            average_ack_time_ms: if acknowledged == 0 { 0.0 } else { total_ms as f64 / acknowledged as f64 },
        })
    }

    async fn check_health(&self) -> Result<(), AckError> {
        self.redis.ping().await.map_err(unavailable)
    }
}

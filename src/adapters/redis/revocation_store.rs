//! Revocations in Redis, shared by every node: `{prefix}:jti:{tenant}:{jti}` and
//! `{prefix}:user:{tenant}:{user}` (the latest issued-before moment, in ms) expire when the tokens
//! they cover would; `{prefix}:log` is a sorted set of the last [`MAX_LOG`] revocations by sequence
//! number (`{prefix}:seq`), from which each node learns what to close locally. Tenant ids hold no
//! `:`, and the user id or `jti` comes last, so keys cannot collide.
//!
//! On Redis Cluster the prefix becomes the hash tag `{prefix}`: recording a revocation and appending
//! it to the one ordered log every node reads must be one atomic script, so the records, the counter
//! and the log share a slot (one shard). They are small: one key per revoked token or user, gone
//! when the tokens it covers would have expired, and a log capped at [`MAX_LOG`] entries.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{RedisCallError, ResilientRedis};
use crate::domain::{TenantId, UserId, UserKey, VerifiedToken};
use crate::ports::{Revocation, RevocationError, RevocationStore};

const MAX_LOG: usize = 10_000;

pub struct RedisRevocationStore {
    redis: Arc<ResilientRedis>,
    prefix: String,
    script: redis::Script,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Entry {
    Token { tenant: String, jti: String },
    IssuedBefore { tenant: String, user: String, before_ms: i64 },
}

fn to_port_error(e: RedisCallError) -> RevocationError {
    if e.is_unavailable() {
        RevocationError::Unavailable(Box::new(e))
    } else {
        RevocationError::Unexpected(Box::new(e))
    }
}

impl RedisRevocationStore {
    /// `prefix` without a trailing `:` (`ara:revoked`).
    pub fn new(redis: Arc<ResilientRedis>, prefix: &str) -> Self {
        let prefix = redis.layout().one_slot(prefix);
        Self { redis, prefix, script: redis::Script::new(include_str!("scripts/revoke.lua")) }
    }

    fn jti_key(&self, tenant: &TenantId, jti: &str) -> String {
        format!("{}:jti:{tenant}:{jti}", self.prefix)
    }

    fn user_key(&self, user: &UserKey) -> String {
        format!("{}:user:{}:{}", self.prefix, user.tenant, user.user)
    }

    fn parse(raw: &str) -> Option<Revocation> {
        let (_, json) = raw.split_once(' ')?;
        Some(match serde_json::from_str::<Entry>(json).ok()? {
            Entry::Token { tenant, jti } => Revocation::Token { tenant: TenantId::parse(&tenant).ok()?, jti },
            Entry::IssuedBefore { tenant, user, before_ms } => Revocation::IssuedBefore {
                user: UserKey::new(TenantId::parse(&tenant).ok()?, UserId::parse(&user).ok()?),
                before: DateTime::from_timestamp_millis(before_ms)?,
            },
        })
    }
}

#[async_trait]
impl RevocationStore for RedisRevocationStore {
    async fn revoke(&self, revocation: &Revocation, until: DateTime<Utc>) -> Result<(), RevocationError> {
        let ttl_ms = (until - Utc::now()).num_milliseconds().max(1);
        let (key, value, entry) = match revocation {
            Revocation::Token { tenant, jti } => {
                (self.jti_key(tenant, jti), 1, Entry::Token { tenant: tenant.to_string(), jti: jti.clone() })
            }
            Revocation::IssuedBefore { user, before } => (
                self.user_key(user),
                before.timestamp_millis(),
                Entry::IssuedBefore {
                    tenant: user.tenant.to_string(),
                    user: user.user.to_string(),
                    before_ms: before.timestamp_millis(),
                },
            ),
        };
        let entry = serde_json::to_string(&entry).map_err(|e| RevocationError::Unexpected(Box::new(e)))?;
        let (seq, log) = (format!("{}:seq", self.prefix), format!("{}:log", self.prefix));
        let script = &self.script;
        let _: i64 = self
            .redis
            .call(|mut con| async move {
                script
                    .key(&key)
                    .key(&seq)
                    .key(&log)
                    .arg(value)
                    .arg(ttl_ms)
                    .arg(&entry)
                    .arg(MAX_LOG)
                    .invoke_async(&mut con)
                    .await
            })
            .await
            .map_err(to_port_error)?;
        Ok(())
    }

    async fn is_revoked(&self, token: &VerifiedToken, _now: DateTime<Utc>) -> Result<bool, RevocationError> {
        // Redis expires the records itself; `_now` is the port's for stores that do not.
        let user_key = self.user_key(&token.identity.key());
        let jti_key = token.jti.as_deref().map(|jti| self.jti_key(&token.identity.tenant, jti));
        // One round trip: the jti record (when the token has a jti), then the user's.
        let keys: Vec<String> = jti_key.into_iter().chain([user_key]).collect();
        let values: Vec<Option<i64>> = self
            .redis
            .call(|mut con| {
                let keys = keys.clone();
                async move { redis::cmd("MGET").arg(&keys).query_async(&mut con).await }
            })
            .await
            .map_err(to_port_error)?;
        if keys.len() == 2 && values.first().is_some_and(Option::is_some) {
            return Ok(true);
        }
        let before = values.last().copied().flatten();
        let Some(before) = before.and_then(DateTime::from_timestamp_millis) else { return Ok(false) };
        Ok(Revocation::IssuedBefore { user: token.identity.key(), before }.covers(token))
    }

    async fn since(&self, cursor: u64, max: usize) -> Result<(Vec<Revocation>, u64), RevocationError> {
        let log = format!("{}:log", self.prefix);
        let count = isize::try_from(max).unwrap_or(isize::MAX);
        let entries: Vec<(String, f64)> = self
            .redis
            .call(|mut con| {
                let log = log.clone();
                async move {
                    redis::cmd("ZRANGEBYSCORE")
                        .arg(&log)
                        .arg(format!("({cursor}"))
                        .arg("+inf")
                        .arg("WITHSCORES")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(count)
                        .query_async(&mut con)
                        .await
                }
            })
            .await
            .map_err(to_port_error)?;
        let next = entries.last().map_or(cursor, |(_, score)| *score as u64);
        let parsed = entries.iter().filter_map(|(raw, _)| Self::parse(raw)).collect();
        Ok((parsed, next))
    }

    async fn check_health(&self) -> Result<(), RevocationError> {
        self.redis.ping().await.map_err(to_port_error)
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

//! Cluster presence in Redis. Keys under `<prefix>:`:
//! - `nodes` (sorted set node → heartbeat expiry, Redis time in ms), `conns` (hash node →
//!   connections), `owner:<node>` (the claiming process's token, with the ttl), `seq` (incarnations);
//! - `p:<key>` (hash node → count) per user or channel, and `held:<node>` (the keys a node counts),
//!   so that whoever sweeps a dead node takes its counts out in one script;
//! - `lease:<key>` and `claim:<name>`, plain `SET NX PX` values.
//!
//! Expiry is judged by Redis's own clock (`TIME` inside the scripts), so nodes never compare theirs.
//!
//! Sweeping a node takes out the counts listed in its `held:<node>` set, whose members only the
//! script reads: those `p:<key>` names are built inside the scripts from the prefix passed in ARGV.
//! On Redis Cluster that prefix is the hash tag `{<prefix>}`, so every key but `lease:` and
//! `claim:` is in one slot (presence lives on one shard: it is small, one entry per connected user
//! and channel per node), and the scripts never reach outside their declared keys' slot. Leases and
//! claims are single-key commands, so they keep the plain prefix and spread.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::Script;

use super::{RedisCallError, ResilientRedis};
use crate::domain::cluster::{NodeCount, NodeId, NodeStatus, PresenceKey};
use crate::ports::{Garbled, Heartbeat, LeaseToken, Presence, PresenceError};

pub struct RedisPresence {
    redis: Arc<ResilientRedis>,
    /// `<prefix>:`, or `{<prefix>}:` on Redis Cluster: the keys the scripts use together.
    prefix: String,
    /// `<prefix>:`: leases and claims, each used alone.
    plain: String,
    /// This process's claim on its node id.
    token: String,
    join: Script,
    heartbeat: Script,
    leave: Script,
    nodes: Script,
    counts: Script,
    unlock: Script,
}

/// Members of a node's `held:` set read per SSCAN step when listing channels.
const HELD_BATCH: usize = 1000;

fn unavailable(e: RedisCallError) -> PresenceError {
    if e.is_unavailable() {
        PresenceError::Unavailable(Box::new(e))
    } else {
        PresenceError::Unexpected(Box::new(e))
    }
}

/// `raw` as a Redis glob that matches it literally.
fn glob_escaped(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisPresence {
    pub fn new(redis: Arc<ResilientRedis>, prefix: &str) -> Self {
        let layout = redis.layout();
        Self {
            redis,
            prefix: format!("{}:", layout.one_slot(prefix)),
            plain: format!("{prefix}:"),
            token: uuid::Uuid::new_v4().simple().to_string(),
            join: Script::new(include_str!("scripts/presence_join.lua")),
            heartbeat: Script::new(include_str!("scripts/presence_heartbeat.lua")),
            leave: Script::new(include_str!("scripts/presence_leave.lua")),
            nodes: Script::new(include_str!("scripts/presence_nodes.lua")),
            counts: Script::new(include_str!("scripts/presence_counts.lua")),
            unlock: Script::new(include_str!("scripts/presence_unlock.lua")),
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }
}

fn pairs(flat: Vec<String>) -> Result<Vec<(NodeId, usize)>, PresenceError> {
    let garbled = |what: String| PresenceError::Unexpected(Box::new(Garbled(what)));
    flat.chunks(2)
        .map(|pair| match pair {
            [node, count] => {
                let node = NodeId::parse(node).map_err(|e| garbled(e.to_string()))?;
                let count = count.parse::<usize>().map_err(|_| garbled(format!("count {count} is not a number")))?;
                Ok((node, count))
            }
            _ => Err(garbled("an odd number of fields".into())),
        })
        .collect()
}

#[async_trait]
impl Presence for RedisPresence {
    async fn heartbeat(&self, node: &NodeId, connections: usize, ttl: Duration) -> Result<Heartbeat, PresenceError> {
        let mut call = self.heartbeat.key(self.key(&format!("owner:{node}")));
        call.key(self.key("nodes")).key(self.key("conns"));
        call.arg(&self.token).arg(ms(ttl)).arg(node.as_str()).arg(connections).arg(&self.prefix);
        let answer: i64 =
            self.redis.call(|mut con| async move { call.invoke_async(&mut con).await }).await.map_err(unavailable)?;
        match answer {
            -1 => Err(PresenceError::NodeIdTaken(node.clone())),
            2 => Ok(Heartbeat::Retaken),
            _ => Ok(Heartbeat::Kept),
        }
    }

    async fn join(&self, node: &NodeId, ttl: Duration) -> Result<u64, PresenceError> {
        let mut call = self.join.key(self.key(&format!("owner:{node}")));
        call.key(self.key("nodes")).key(self.key("seq")).key(self.key("conns")).key(self.key(&format!("held:{node}")));
        call.arg(&self.token).arg(ms(ttl)).arg(node.as_str()).arg(&self.prefix);
        let answer: i64 =
            self.redis.call(|mut con| async move { call.invoke_async(&mut con).await }).await.map_err(unavailable)?;
        u64::try_from(answer).map_err(|_| PresenceError::NodeIdTaken(node.clone()))
    }

    async fn leave(&self, node: &NodeId) -> Result<(), PresenceError> {
        let mut call = self.leave.key(self.key(&format!("owner:{node}")));
        call.key(self.key("nodes")).key(self.key("conns")).key(self.key(&format!("held:{node}")));
        call.arg(&self.token).arg(node.as_str()).arg(&self.prefix);
        self.redis
            .call(|mut con| async move { call.invoke_async::<i64>(&mut con).await })
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn nodes(&self) -> Result<Vec<NodeStatus>, PresenceError> {
        let mut call = self.nodes.key(self.key("nodes"));
        call.key(self.key("conns"));
        let flat: Vec<String> =
            self.redis.call(|mut con| async move { call.invoke_async(&mut con).await }).await.map_err(unavailable)?;
        let mut list: Vec<NodeStatus> =
            pairs(flat)?.into_iter().map(|(node_id, connections)| NodeStatus { node_id, connections }).collect();
        list.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        Ok(list)
    }

    async fn set_counts(&self, node: &NodeId, counts: &[(PresenceKey, usize)]) -> Result<(), PresenceError> {
        if counts.is_empty() {
            return Ok(());
        }
        let held = self.key(&format!("held:{node}"));
        let mut pipe = redis::pipe();
        for (key, count) in counts {
            let name = key.name();
            let hash = self.key(&format!("p:{name}"));
            if *count == 0 {
                pipe.hdel(hash, node.as_str()).ignore().srem(&held, name).ignore();
            } else {
                pipe.hset(hash, node.as_str(), *count).ignore().sadd(&held, name).ignore();
            }
        }
        self.redis.call(|mut con| async move { pipe.query_async::<()>(&mut con).await }).await.map_err(unavailable)
    }

    async fn counts(&self, keys: &[PresenceKey]) -> Result<Vec<Vec<NodeCount>>, PresenceError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut call = self.counts.key(self.key("nodes"));
        for key in keys {
            call.key(self.key(&format!("p:{}", key.name())));
        }
        let nested: Vec<Vec<String>> =
            self.redis.call(|mut con| async move { call.invoke_async(&mut con).await }).await.map_err(unavailable)?;
        nested
            .into_iter()
            .map(|flat| {
                let mut found: Vec<NodeCount> = pairs(flat)?
                    .into_iter()
                    .filter(|(_, count)| *count > 0)
                    .map(|(node_id, connections)| NodeCount { node_id, connections })
                    .collect();
                found.sort_by(|a, b| a.node_id.cmp(&b.node_id));
                Ok(found)
            })
            .collect()
    }

    async fn lock(&self, key: &PresenceKey, hold: Duration) -> Result<Option<LeaseToken>, PresenceError> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}lease:{}", self.plain, key.name())).arg(&token).arg("NX").arg("PX").arg(ms(hold));
        let set: Option<String> =
            self.redis.call(|mut con| async move { cmd.query_async(&mut con).await }).await.map_err(unavailable)?;
        Ok(set.map(|_| LeaseToken(token)))
    }

    async fn unlock(&self, key: &PresenceKey, token: &LeaseToken) -> Result<(), PresenceError> {
        let mut call = self.unlock.key(format!("{}lease:{}", self.plain, key.name()));
        call.arg(&token.0);
        self.redis
            .call(|mut con| async move { call.invoke_async::<i64>(&mut con).await })
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn claim(&self, name: &str, window: Duration) -> Result<bool, PresenceError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}claim:{name}", self.plain)).arg(1).arg("NX").arg("PX").arg(ms(window));
        let set: Option<String> =
            self.redis.call(|mut con| async move { cmd.query_async(&mut con).await }).await.map_err(unavailable)?;
        Ok(set.is_some())
    }

    /// Walks the live nodes' `held:<node>` sets, a batch at a time (SSCAN, so Redis is never blocked
    /// by a large set); MATCH narrows what comes back, the prefix check decides.
    async fn names_held(&self, prefix: &str) -> Result<Vec<String>, PresenceError> {
        let pattern = format!("{}*", glob_escaped(prefix));
        let mut found = std::collections::BTreeSet::new();
        for node in self.nodes().await? {
            let held = self.key(&format!("held:{}", node.node_id));
            let mut cursor = 0u64;
            loop {
                let mut cmd = redis::cmd("SSCAN");
                cmd.arg(&held).arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(HELD_BATCH);
                let (next, names): (u64, Vec<String>) = self
                    .redis
                    .call(|mut con| async move { cmd.query_async(&mut con).await })
                    .await
                    .map_err(unavailable)?;
                found.extend(names.into_iter().filter(|name| name.starts_with(prefix)));
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(found.into_iter().collect())
    }
}

//! The `CLUSTER_*` settings (`[cluster]` in TOML): cluster mode on or off, this node's id, where
//! presence and the bus live, and how fast a dead node is noticed. Off (the default), a node works
//! exactly as it does alone.

use serde::{Deserialize, Serialize};

use super::values::{key_prefix, opt_string_like};
use super::{ConfigError, Secret, Settings};

/// Where presence and the bus live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStore {
    /// In this process: a cluster of one (the code paths of cluster mode, no other node).
    Local,
    /// In Redis: every node sharing that Redis and prefix forms one cluster.
    #[default]
    Redis,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterSettings {
    pub enabled: bool,
    /// `CLUSTER_NODE_ID`: unset gives the host name plus a random suffix.
    #[serde(deserialize_with = "opt_string_like")]
    pub node_id: Option<String>,
    pub session_store: SessionStore,
    /// A node whose heartbeat is older than this is dead; heartbeats go every third of it.
    pub node_ttl_seconds: u64,
    /// `CLUSTER_REDIS_URL`: the Redis of presence and the bus, when it is not `REDIS_URL`'s.
    pub redis_url: Option<Secret>,
    #[serde(deserialize_with = "key_prefix")]
    pub redis_key_prefix: String,
    /// Bus messages waiting to be published, at most; beyond, they are refused and counted (and user
    /// ones queued, with a queue).
    pub outbound_queue_size: usize,
    /// How often a node sends itself a canary through the bus; three missed make it not ready.
    pub canary_interval_ms: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            node_id: None,
            session_store: SessionStore::Redis,
            node_ttl_seconds: 10,
            redis_url: None,
            redis_key_prefix: "ara:cluster".into(),
            outbound_queue_size: 10_000,
            canary_interval_ms: 1_000,
        }
    }
}

impl ClusterSettings {
    /// The configured node id, or the host name with a random suffix.
    pub fn node_id(&self) -> String {
        match self.node_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => id.to_owned(),
            None => {
                let host = hostname().unwrap_or_else(|| "ara".into());
                let host: String = host
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                    .take(48)
                    .collect();
                let host = if host.is_empty() { "ara".to_owned() } else { host };
                format!("{host}-{:06x}", fastrand::u32(..0x0100_0000))
            }
        }
    }
}

fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .filter(|h| !h.is_empty())
}

impl Settings {
    /// The Redis of presence and the bus: `CLUSTER_REDIS_URL`, else `REDIS_URL`.
    pub fn cluster_redis_url(&self) -> Option<&str> {
        match &self.cluster.redis_url {
            Some(url) if !url.expose().is_empty() => Some(url.expose()),
            _ => self.redis_url(),
        }
    }

    /// Cluster mode on with presence and the bus in Redis.
    pub fn cluster_uses_redis(&self) -> bool {
        self.cluster.enabled && self.cluster.session_store == SessionStore::Redis
    }
}

pub(super) fn validate(s: &Settings) -> Result<(), ConfigError> {
    let invalid = |setting: &str, message: String| Err(ConfigError::Invalid { setting: setting.into(), message });
    let c = &s.cluster;
    if let Some(id) = c.node_id.as_deref().filter(|id| !id.trim().is_empty()) {
        if let Err(e) = crate::domain::cluster::NodeId::parse(id.trim()) {
            return invalid("CLUSTER_NODE_ID", e.to_string());
        }
    }
    if c.node_ttl_seconds == 0 {
        return invalid("CLUSTER_NODE_TTL_SECONDS", "must be at least 1 second".into());
    }
    if c.outbound_queue_size == 0 {
        return invalid("CLUSTER_OUTBOUND_QUEUE_SIZE", "must be greater than 0".into());
    }
    if c.canary_interval_ms == 0 {
        return invalid("CLUSTER_CANARY_INTERVAL_MS", "must be greater than 0".into());
    }
    if s.cluster_uses_redis() && s.cluster_redis_url().is_none() {
        return invalid("CLUSTER_REDIS_URL", "must be set (or REDIS_URL) when CLUSTER_SESSION_STORE is redis".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::*;

    #[test]
    fn cluster_mode_is_off_by_default_and_reads_its_settings() {
        let s = Settings::from_pairs([]).unwrap();
        assert!(!s.cluster.enabled);
        assert_eq!(s.cluster.node_ttl_seconds, 10);
        let s = Settings::from_pairs([
            ("CLUSTER_ENABLED", "true"),
            ("CLUSTER_NODE_ID", "node-1"),
            ("CLUSTER_SESSION_STORE", "local"),
            ("CLUSTER_NODE_TTL_SECONDS", "3"),
            ("CLUSTER_REDIS_URL", "redis://127.0.0.1:6390"),
        ])
        .unwrap();
        assert!(s.cluster.enabled);
        assert_eq!(s.cluster.node_id(), "node-1");
        assert_eq!(s.cluster.session_store, SessionStore::Local);
        assert_eq!(s.cluster.node_ttl_seconds, 3);
        assert_eq!(s.cluster_redis_url(), Some("redis://127.0.0.1:6390"));
    }

    #[test]
    fn the_cluster_redis_defaults_to_redis_url_and_ids_are_checked() {
        let s = Settings::from_pairs([("REDIS_URL", "redis://10.0.0.1:6379")]).unwrap();
        assert_eq!(s.cluster_redis_url(), Some("redis://10.0.0.1:6379"));
        assert!(Settings::from_pairs([("CLUSTER_NODE_ID", "a:b")]).is_err());
        assert!(Settings::from_pairs([("CLUSTER_NODE_TTL_SECONDS", "0")]).is_err());
        assert!(Settings::from_pairs([("CLUSTER_SESSION_STORE", "etcd")]).is_err());
        let generated = Settings::from_pairs([]).unwrap().cluster.node_id();
        assert!(crate::domain::cluster::NodeId::parse(&generated).is_ok(), "{generated}");
        assert_ne!(generated, Settings::from_pairs([]).unwrap().cluster.node_id());
    }
}

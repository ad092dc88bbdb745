//! Wiring of cluster mode (`CLUSTER_SESSION_STORE` → presence and bus adapters) and its diagnostic:
//! `cluster` in `/health` (required: a node whose bus canary stopped coming back is not ready) and
//! in `/stats` (the node's counters and the cluster's nodes and connections).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::config::{SessionStore, Settings};
use super::resilience;
use super::stores::StoreError;
use crate::adapters::memory::{MemoryBus, MemoryPresence};
use crate::adapters::redis::{BusSettings, RedisBus, RedisPresence, ResilientRedis};
use crate::domain::cluster::NodeId;
use crate::ports::{Diagnostic, DynClusterBus, DynPresence, Report, StatsUnavailable, Status};
use crate::service::{ClusterConfig, NotificationService};

/// The cluster configuration, or `None` with cluster mode off. `shared` is the Redis connection of
/// the other features, used unless `CLUSTER_REDIS_URL` names another Redis.
pub async fn config(
    settings: &Settings,
    shared: Option<&Arc<ResilientRedis>>,
) -> Result<Option<ClusterConfig>, StoreError> {
    let c = &settings.cluster;
    if !c.enabled {
        return Ok(None);
    }
    let node =
        NodeId::parse(&c.node_id()).map_err(|e| StoreError::said("CLUSTER_NODE_ID", "cluster", e.to_string()))?;
    let r = &settings.redis;
    let (presence, bus): (DynPresence, DynClusterBus) = match c.session_store {
        SessionStore::Local => (Arc::new(MemoryPresence::new()), Arc::new(MemoryBus::new())),
        SessionStore::Redis => {
            let redis = match (c.redis_url.as_ref().filter(|u| !u.expose().is_empty()), shared) {
                (None, Some(shared)) => shared.clone(),
                _ => {
                    resilience::connect_redis(
                        settings,
                        settings.cluster_redis_url().unwrap_or_default(),
                        "CLUSTER_REDIS_URL",
                    )
                    .await?
                }
            };
            let bus = RedisBus::open(
                redis.clone(),
                &c.redis_key_prefix,
                BusSettings {
                    timeout: Duration::from_millis(r.timeout_ms),
                    keepalive_interval: Duration::from_millis(r.pubsub_keepalive_ms),
                    reconnect_min_delay: Duration::from_millis(r.reconnect_min_delay_ms),
                    reconnect_max_delay: Duration::from_millis(r.reconnect_max_delay_ms),
                },
            );
            (Arc::new(RedisPresence::new(redis, &c.redis_key_prefix)), bus)
        }
    };
    Ok(Some(ClusterConfig {
        node,
        presence,
        bus,
        ttl: Duration::from_secs(c.node_ttl_seconds),
        outbound_capacity: c.outbound_queue_size,
        canary_interval: Duration::from_millis(c.canary_interval_ms),
        timeout: Duration::from_millis(r.timeout_ms),
    }))
}

/// `cluster` in `/health` and `/stats`.
pub struct ClusterDiagnostic(pub Arc<NotificationService>);

#[async_trait]
impl Diagnostic for ClusterDiagnostic {
    fn name(&self) -> &'static str {
        "cluster"
    }

    async fn health(&self) -> Report {
        let Some(snapshot) = self.0.cluster_snapshot() else { return Report::status(Status::Healthy) };
        let status = if snapshot.ready { Status::Healthy } else { Status::Down };
        let details = json!({
            "node_id": snapshot.node_id,
            "bus_subscribed": snapshot.bus_subscribed,
            "canary_age_ms": snapshot.canary_age_ms,
            "heartbeat_age_ms": snapshot.heartbeat_age_ms,
        });
        Report { status, details: details.as_object().cloned() }
    }

    async fn stats(&self) -> Result<Option<Value>, StatsUnavailable> {
        let Some(snapshot) = self.0.cluster_snapshot() else { return Ok(None) };
        let mut value = serde_json::to_value(snapshot).unwrap_or(Value::Null);
        if let (Some(Ok(status)), Some(map)) = (self.0.cluster_status().await, value.as_object_mut()) {
            map.insert("nodes".into(), json!(status.nodes));
            map.insert("healthy_nodes".into(), json!(status.healthy_nodes));
            map.insert("total_connections".into(), json!(status.total_connections));
        }
        Ok(Some(value))
    }
}

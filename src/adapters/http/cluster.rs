//! Cluster info: `GET /api/v1/cluster/status` and `GET /api/v1/cluster/users/{user_id}`, read from
//! presence (so from every live node). With cluster mode off both answer 404 `FEATURE_DISABLED`.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;

use super::caller::{Acting, CallerKind};
use super::error::{ApiError, Body as ErrorResponse};
use super::state::AppState;
use crate::domain::{ErrorChain, Quoted, UserId, UserKey};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeConnections {
    pub node_id: String,
    pub connections: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClusterStatusView {
    /// The node that answered.
    pub node_id: String,
    /// The live nodes (heartbeat within `CLUSTER_NODE_TTL_SECONDS`), sorted.
    pub nodes: Vec<String>,
    pub healthy_nodes: usize,
    /// Live connections on every live node (each node's own count as of its last heartbeat).
    pub total_connections: usize,
    pub node_connections: Vec<NodeConnections>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClusterUserView {
    pub user_id: String,
    /// Connections on every node.
    pub connections: usize,
    /// The nodes holding the user, each with its connection count, sorted by node id.
    pub nodes: Vec<NodeConnections>,
}

fn disabled() -> ApiError {
    ApiError::FeatureDisabled("cluster mode is off (CLUSTER_ENABLED)".into())
}

fn unavailable(e: &crate::ports::PresenceError) -> ApiError {
    tracing::warn!(error = %ErrorChain(e), "cluster presence unavailable");
    ApiError::Unavailable { code: "CLUSTER_UNAVAILABLE", message: "the cluster's presence store is unavailable".into() }
}

/// The cluster's live nodes and connections.
#[utoipa::path(get, path = "/api/v1/cluster/status", tag = "cluster",
    responses((status = 200, body = ClusterStatusView), (status = 401, body = ErrorResponse),
        (status = 403, description = "TENANT_KEY_NOT_ALLOWED: a tenant's key cannot see the whole cluster", body = ErrorResponse),
        (status = 404, description = "FEATURE_DISABLED (cluster mode off)", body = ErrorResponse),
        (status = 503, description = "CLUSTER_UNAVAILABLE", body = ErrorResponse)))]
pub async fn status(State(state): State<AppState>, acting: Acting) -> Result<Json<ClusterStatusView>, ApiError> {
    // Node counts add up every tenant's connections: not for a tenant's own key.
    if acting.0.kind == CallerKind::TenantKey {
        return Err(ApiError::Forbidden {
            code: "TENANT_KEY_NOT_ALLOWED",
            message: "the cluster's status spans every tenant: ask with API_KEY or ADMIN_API_KEY".into(),
        });
    }
    let status = state.service.cluster_status().await.ok_or_else(disabled)?.map_err(|e| unavailable(&e))?;
    Ok(Json(ClusterStatusView {
        node_id: status.node_id.to_string(),
        nodes: status.nodes.iter().map(|n| n.node_id.to_string()).collect(),
        healthy_nodes: status.healthy_nodes,
        total_connections: status.total_connections,
        node_connections: status
            .nodes
            .into_iter()
            .map(|n| NodeConnections { node_id: n.node_id.to_string(), connections: n.connections })
            .collect(),
    }))
}

/// Where a user is connected: every node holding the user, with its connection count.
#[utoipa::path(get, path = "/api/v1/cluster/users/{user_id}", tag = "cluster",
    params(("user_id" = crate::domain::UserId, Path, description = "User id")),
    responses((status = 200, body = ClusterUserView), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 404, description = "USER_NOT_FOUND (connected nowhere), FEATURE_DISABLED (cluster mode off)", body = ErrorResponse),
        (status = 503, description = "CLUSTER_UNAVAILABLE", body = ErrorResponse)))]
pub async fn user(
    State(state): State<AppState>,
    acting: Acting,
    Path(user_id): Path<String>,
) -> Result<Json<ClusterUserView>, ApiError> {
    let user = UserId::parse(&user_id)?;
    let key = UserKey::new(acting.tenant().clone(), user);
    let nodes = state.service.locate_user(&key).await.ok_or_else(disabled)?.map_err(|e| unavailable(&e))?;
    if nodes.is_empty() {
        return Err(ApiError::Missing {
            code: "USER_NOT_FOUND",
            message: format!("user {} is not connected to any node", Quoted(&user_id)),
        });
    }
    Ok(Json(ClusterUserView {
        user_id,
        connections: nodes.iter().map(|n| n.connections).sum(),
        nodes: nodes
            .into_iter()
            .map(|n| NodeConnections { node_id: n.node_id.to_string(), connections: n.connections })
            .collect(),
    }))
}

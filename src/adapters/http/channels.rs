//! Channel info: `GET /api/v1/channels`, `GET /api/v1/channels/{name}`,
//! `GET /api/v1/users/{user_id}/subscriptions`. Counts are this node's live connections, except one
//! channel's subscriber count, which in cluster mode is every live node's.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;

use super::caller::Acting;
use super::error::{ApiError, Body as ErrorResponse};
use super::state::AppState;
use crate::domain::{ChannelName, Quoted, UserId, UserKey};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelInfo {
    pub name: String,
    pub subscriber_count: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelList {
    pub channels: Vec<ChannelInfo>,
    pub total: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserSubscriptions {
    pub user_id: String,
    pub connections: usize,
    pub channels: Vec<String>,
}

/// Channels of the tenant with their subscriber counts (on every node in cluster mode; this node's
/// alone while the cluster's presence cannot be asked).
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels",
    responses((status = 200, body = ChannelList), (status = 401, body = ErrorResponse)))]
pub async fn list_channels(State(state): State<AppState>, acting: Acting) -> Json<ChannelList> {
    let found = match state.service.cluster_channels(acting.tenant()).await {
        Some(cluster) => cluster,
        None => state.service.channels(acting.tenant()),
    };
    let channels: Vec<ChannelInfo> = found
        .into_iter()
        .map(|(name, subscriber_count)| ChannelInfo { name: name.to_string(), subscriber_count })
        .collect();
    Json(ChannelList { total: channels.len(), channels })
}

/// One channel's subscriber count.
#[utoipa::path(get, path = "/api/v1/channels/{name}", tag = "channels",
    params(("name" = crate::domain::ChannelName, Path, description = "Channel name")),
    responses((status = 200, body = ChannelInfo), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 404, description = "CHANNEL_NOT_FOUND", body = ErrorResponse)))]
pub async fn get_channel(
    State(state): State<AppState>,
    acting: Acting,
    Path(name): Path<String>,
) -> Result<Json<ChannelInfo>, ApiError> {
    let channel = ChannelName::parse(&name)?;
    let tenant = acting.tenant();
    // In cluster mode, every live node's subscribers; this node's when presence cannot be asked.
    let cluster = state.service.cluster_channel_subscribers(tenant, &channel).await.filter(|n| *n > 0);
    let subscriber_count =
        cluster.or_else(|| state.service.channel_subscribers(tenant, &channel)).ok_or_else(|| ApiError::Missing {
            code: "CHANNEL_NOT_FOUND",
            message: format!("no subscribers on channel {}", Quoted(&name)),
        })?;
    Ok(Json(ChannelInfo { name, subscriber_count }))
}

/// A connected user's live connections and channels.
#[utoipa::path(get, path = "/api/v1/users/{user_id}/subscriptions", tag = "channels",
    params(("user_id" = crate::domain::UserId, Path, description = "User id")),
    responses((status = 200, body = UserSubscriptions), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 404, description = "USER_NOT_FOUND", body = ErrorResponse)))]
pub async fn user_subscriptions(
    State(state): State<AppState>,
    acting: Acting,
    Path(user_id): Path<String>,
) -> Result<Json<UserSubscriptions>, ApiError> {
    let user = UserId::parse(&user_id)?;
    let found = state.service.subscriptions(&UserKey::new(acting.tenant().clone(), user)).ok_or_else(|| {
        ApiError::Missing { code: "USER_NOT_FOUND", message: format!("user {} is not connected", Quoted(&user_id)) }
    })?;
    let channels = found.channels.iter().map(|c| c.to_string()).collect();
    Ok(Json(UserSubscriptions { user_id, connections: found.connections, channels }))
}

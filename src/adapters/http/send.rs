//! `POST /api/v1/notifications/{send,send-to-users,broadcast,channel,channels}`.
//!
//! The HTTP API acts for the `default` tenant until tenant management lands.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::ApiJson;
use super::state::AppState;
use crate::domain::{ChannelName, NotificationDraft, Priority, Target, TenantId, UserId};
use crate::service::SendReport;

/// What every send carries besides its target.
#[derive(Debug, Deserialize)]
pub struct Content {
    pub event_type: String,
    #[serde(default = "empty_object")]
    pub payload: serde_json::Value,
    pub priority: Option<Priority>,
    pub ttl: Option<u32>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

#[derive(Debug, Deserialize)]
pub struct SendToUser {
    pub target_user_id: String,
    #[serde(flatten)]
    pub content: Content,
}

#[derive(Debug, Deserialize)]
pub struct SendToUsers {
    pub target_user_ids: Vec<String>,
    #[serde(flatten)]
    pub content: Content,
}

#[derive(Debug, Deserialize)]
pub struct SendToChannel {
    pub channel: String,
    #[serde(flatten)]
    pub content: Content,
}

#[derive(Debug, Deserialize)]
pub struct SendToChannels {
    pub channels: Vec<String>,
    #[serde(flatten)]
    pub content: Content,
}

#[derive(Debug, serde::Serialize)]
pub struct SendResponse {
    pub success: bool,
    #[serde(flatten)]
    pub report: SendReport,
}

/// Validates `content` into a draft for `tenant` (shared by single sends and batch items).
pub async fn draft_from(state: &AppState, tenant: TenantId, content: Content) -> Result<NotificationDraft, ApiError> {
    Ok(NotificationDraft::new(
        tenant,
        content.event_type,
        content.payload,
        content.priority,
        content.ttl,
        state.body_limit_bytes,
    )?)
}

async fn deliver(state: &AppState, content: Content, target: Target) -> Result<Json<SendResponse>, ApiError> {
    let draft = draft_from(state, TenantId::default_tenant(), content).await?;
    let report = state.notifier.send(draft, &target).await?;
    Ok(Json(SendResponse { success: true, report }))
}

pub async fn send_to_user(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SendToUser>,
) -> Result<Json<SendResponse>, ApiError> {
    let target = Target::User(UserId::parse(&req.target_user_id)?);
    deliver(&state, req.content, target).await
}

pub async fn send_to_users(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SendToUsers>,
) -> Result<Json<SendResponse>, ApiError> {
    let target = Target::users(&req.target_user_ids)?;
    deliver(&state, req.content, target).await
}

pub async fn broadcast(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<Content>,
) -> Result<Json<SendResponse>, ApiError> {
    deliver(&state, req, Target::Broadcast).await
}

pub async fn send_to_channel(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SendToChannel>,
) -> Result<Json<SendResponse>, ApiError> {
    let target = Target::Channel(ChannelName::parse(&req.channel)?);
    deliver(&state, req.content, target).await
}

pub async fn send_to_channels(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SendToChannels>,
) -> Result<Json<SendResponse>, ApiError> {
    let target = Target::channels(&req.channels)?;
    deliver(&state, req.content, target).await
}

//! `POST /api/v1/notifications/{send,send-to-users,broadcast,channel,channels}`.
//!
//! The HTTP API acts for the `default` tenant until tenant management lands. Every send carries its
//! content inline (`event_type` + `payload`) or by template (`template_id` + `variables`).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::ApiJson;
use super::state::AppState;
use crate::domain::{ChannelName, NotificationDraft, Priority, Target, TenantId, UserId};
use crate::service::{ContentSource, SendReport};

/// What every send carries besides its target: `event_type` and `payload` (default `{}`), or
/// `template_id` and `variables` (default `{}`). `priority` and `ttl` override a template's defaults.
#[derive(Debug, Deserialize)]
pub struct Content {
    pub event_type: Option<String>,
    pub payload: Option<serde_json::Value>,
    pub template_id: Option<String>,
    pub variables: Option<serde_json::Map<String, serde_json::Value>>,
    pub priority: Option<Priority>,
    pub ttl: Option<u32>,
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

/// Validates `content` into a draft for `tenant`, rendering its template if it names one (shared by
/// single sends and batch items).
pub async fn draft_from(state: &AppState, tenant: TenantId, content: Content) -> Result<NotificationDraft, ApiError> {
    let source =
        ContentSource::from_parts(content.event_type, content.payload, content.template_id, content.variables)?;
    Ok(state.templates.draft(tenant, source, content.priority, content.ttl, state.body_limit_bytes).await?)
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

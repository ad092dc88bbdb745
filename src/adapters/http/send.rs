//! `POST /api/v1/notifications/{send,send-to-users,broadcast,channel,channels}`.
//!
//! Every send acts in the caller's tenant (see `caller.rs`): a body's `tenant_id`, if given, must name
//! that tenant. Every send carries its content inline (`event_type` + `payload`) or by template
//! (`template_id` + `variables`).

use axum::extract::State;

use super::caller::Acting;
use axum::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::ApiJson;
use super::state::AppState;
use crate::domain::{ChannelName, Target, TenantId, UserId};
use crate::service::{ContentSource, PreparedSend, SendReport};

/// Declares a send body: its own fields, then every field of [`Content`]. Unknown fields are refused
/// (`UNKNOWN_FIELD`), which `#[serde(flatten)]` would not allow, hence the fields written out by the
/// macro rather than a flattened `Content`.
macro_rules! send_body {
    ($(#[$attr:meta])* $name:ident { $($(#[$field_attr:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$attr])*
        #[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$field_attr])* pub $field: $ty,)*
            /// What happened, e.g. `order.shipped` (1–128 characters). Required unless `template_id` is given.
            #[schema(value_type = Option<$crate::adapters::http::schema::EventTypeSchema>, example = "order.shipped")]
            pub event_type: Option<String>,
            /// Any JSON (default `{}`); not allowed with `template_id`.
            #[schema(value_type = Option<Object>)]
            pub payload: Option<serde_json::Value>,
            /// Render the content from this template instead of `event_type` + `payload`.
            #[schema(value_type = Option<crate::domain::TemplateId>)]
            pub template_id: Option<String>,
            /// Values for the template's `{{placeholders}}`.
            #[schema(value_type = Option<Object>)]
            pub variables: Option<serde_json::Map<String, serde_json::Value>>,
            #[schema(value_type = Option<$crate::adapters::http::schema::PrioritySchema>)]
            pub priority: Option<crate::domain::Priority>,
            /// Seconds (1–604800) after which the notification is not worth delivering.
            #[schema(minimum = 1, maximum = 604800)]
            #[serde(default, deserialize_with = "crate::adapters::http::integral::option_u32")]
            pub ttl: Option<u32>,
            /// The tenant the send acts in; if given it must be the caller's (403 `TENANT_MISMATCH`
            /// otherwise): a key never sends into another tenant.
            #[schema(value_type = Option<crate::domain::TenantId>)]
            pub tenant_id: Option<String>,
        }

        impl $name {
            /// The content fields, once the body's own fields have been read.
            pub fn into_content(self) -> $crate::adapters::http::send::Content {
                $crate::adapters::http::send::Content {
                    event_type: self.event_type,
                    payload: self.payload,
                    template_id: self.template_id,
                    variables: self.variables,
                    priority: self.priority,
                    ttl: self.ttl,
                    tenant_id: self.tenant_id,
                }
            }
        }
    };
}
pub(crate) use send_body;

send_body! {
    /// What every send carries besides its target: `event_type` and `payload` (default `{}`), or
    /// `template_id` and `variables` (default `{}`). `priority` and `ttl` override a template's defaults.
    Content {}
}

send_body! {
    SendToUser {
        /// The user; every live connection of theirs gets the notification.
        #[schema(value_type = crate::domain::UserId)]
        target_user_id: String,
    }
}

send_body! {
    SendToUsers {
        /// 1–1000 users; duplicates are sent once.
        #[schema(value_type = Vec<crate::domain::UserId>, min_items = 1, max_items = 1000)]
        target_user_ids: Vec<String>,
    }
}

send_body! {
    SendToChannel {
        /// Channel name: 1–64 characters of `A-Z a-z 0-9 _ . -`.
        #[schema(value_type = crate::domain::ChannelName)]
        channel: String,
    }
}

send_body! {
    SendToChannels {
        /// 1–1000 channels; a connection on several gets one copy.
        #[schema(value_type = Vec<crate::domain::ChannelName>, min_items = 1, max_items = 1000)]
        channels: Vec<String>,
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SendResponse {
    pub success: bool,
    /// UUID v7: time-ordered; clients can de-duplicate by it.
    pub notification_id: Uuid,
    /// Connections the notification was handed to.
    pub delivered_to: usize,
    /// Targeted users with no live connection.
    pub offline_users: usize,
    /// Offline users for whom it was queued.
    pub queued: usize,
}

impl From<SendReport> for SendResponse {
    fn from(r: SendReport) -> Self {
        Self {
            success: true,
            notification_id: r.notification_id,
            delivered_to: r.delivered_to,
            offline_users: r.offline_users,
            queued: r.queued,
        }
    }
}

/// Resolves `content` for `target` in `tenant`, rendering its template if it names one (shared by
/// single sends and batch items).
pub async fn prepare(
    state: &AppState,
    tenant: TenantId,
    content: Content,
    target: Target,
) -> Result<PreparedSend, ApiError> {
    let source =
        ContentSource::from_parts(content.event_type, content.payload, content.template_id, content.variables)?;
    Ok(state.service.prepare(tenant, source, content.priority, content.ttl, target).await?)
}

/// The error answers every single send shares; `openapi.rs` adds them to each send operation.
pub const SEND_ERRORS: &[(&str, &str)] = &[
    ("400", "INVALID_JSON, INVALID_REQUEST, UNKNOWN_FIELD, VALIDATION_ERROR or MISSING_VARIABLES"),
    ("403", "TENANT_MISMATCH or TENANT_SUSPENDED"),
    ("404", "TEMPLATE_NOT_FOUND or TENANT_NOT_FOUND"),
    ("413", "PAYLOAD_TOO_LARGE"),
    ("415", "UNSUPPORTED_MEDIA_TYPE"),
    ("429", "TENANT_QUOTA_EXCEEDED (sends_per_second; with Retry-After)"),
    ("503", "QUEUE_UNAVAILABLE or TEMPLATE_STORE_UNAVAILABLE"),
];

async fn deliver(
    state: &AppState,
    acting: &Acting,
    content: Content,
    target: Target,
) -> Result<Json<SendResponse>, ApiError> {
    acting.0.check_body_tenant(content.tenant_id.as_deref())?;
    let prepared = prepare(state, acting.tenant().clone(), content, target).await?;
    let report = state.service.send_prepared(prepared).await?;
    Ok(Json(report.into()))
}

/// Sends to one user, on every device.
#[utoipa::path(post, path = "/api/v1/notifications/send", tag = "notifications", request_body = SendToUser,
    responses((status = 200, body = SendResponse)))]
pub async fn send_to_user(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(req): ApiJson<SendToUser>,
) -> Result<Json<SendResponse>, ApiError> {
    let target = Target::User(UserId::parse(&req.target_user_id)?);
    deliver(&state, &acting, req.into_content(), target).await
}

/// Sends to several users.
#[utoipa::path(post, path = "/api/v1/notifications/send-to-users", tag = "notifications", request_body = SendToUsers,
    responses((status = 200, body = SendResponse)))]
pub async fn send_to_users(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(req): ApiJson<SendToUsers>,
) -> Result<Json<SendResponse>, ApiError> {
    let target = Target::users(&req.target_user_ids)?;
    deliver(&state, &acting, req.into_content(), target).await
}

/// Sends to every connection of the tenant.
#[utoipa::path(post, path = "/api/v1/notifications/broadcast", tag = "notifications", request_body = Content,
    responses((status = 200, body = SendResponse)))]
pub async fn broadcast(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(req): ApiJson<Content>,
) -> Result<Json<SendResponse>, ApiError> {
    deliver(&state, &acting, req.into_content(), Target::Broadcast).await
}

/// Sends to the subscribers of one channel.
#[utoipa::path(post, path = "/api/v1/notifications/channel", tag = "notifications", request_body = SendToChannel,
    responses((status = 200, body = SendResponse)))]
pub async fn send_to_channel(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(req): ApiJson<SendToChannel>,
) -> Result<Json<SendResponse>, ApiError> {
    let target = Target::Channel(ChannelName::parse(&req.channel)?);
    deliver(&state, &acting, req.into_content(), target).await
}

/// Sends to the subscribers of several channels.
#[utoipa::path(post, path = "/api/v1/notifications/channels", tag = "notifications", request_body = SendToChannels,
    responses((status = 200, body = SendResponse)))]
pub async fn send_to_channels(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(req): ApiJson<SendToChannels>,
) -> Result<Json<SendResponse>, ApiError> {
    let target = Target::channels(&req.channels)?;
    deliver(&state, &acting, req.into_content(), target).await
}

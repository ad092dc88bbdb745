//! `GET /admin/api/connections`: the live connections of a tenant on this node, or of one user — what
//! the connection inspector shows. Needs a dashboard session and its CSRF token.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::login::same_origin;
use super::{console, AdminError, AdminState};
use crate::domain::{TenantId, Transport, UserId, UserKey};
use crate::service::ConnectionView;

/// A tenant's list stops here; the inspector asks for one user when there are more.
const MAX_LISTED: usize = 500;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConnectionsQuery {
    /// The tenant (default `default`).
    tenant: Option<String>,
    /// Only this user's connections.
    user_id: Option<String>,
}

/// Live connections on this node.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConnectionList {
    tenant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    /// Newest first.
    connections: Vec<ConnectionInfo>,
    total: usize,
    truncated: bool,
}

/// One live connection.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConnectionInfo {
    connection_id: u64,
    user_id: String,
    /// `websocket` or `sse`.
    #[schema(value_type = String)]
    transport: Transport,
    connected_at: String,
    /// Since the client last showed a sign of life (a frame, a pong, an ACK).
    idle_ms: i64,
    channels: Vec<String>,
}

/// The connection inspector: a tenant's live connections on this node (newest 500), or one user's.
#[utoipa::path(get, path = "/admin/api/connections", tag = "admin", security(("admin_session" = [])),
    params(ConnectionsQuery, ("X-CSRF-Token" = String, Header, description = "From GET /admin/api/session")),
    responses(
        (status = 200, body = ConnectionList),
        (status = 400, description = "VALIDATION_ERROR or INVALID_REQUEST", body = crate::adapters::http::error::Body),
        (status = 401, description = "ADMIN_SESSION_REQUIRED", body = crate::adapters::http::error::Body),
        (status = 403, description = "CSRF_TOKEN_INVALID or CROSS_ORIGIN_REQUEST", body = crate::adapters::http::error::Body),
        (status = 404, description = "ADMIN_DISABLED", body = crate::adapters::http::error::Body)))]
pub async fn connections(
    State(state): State<AdminState>,
    headers: HeaderMap,
    query: Result<Query<ConnectionsQuery>, QueryRejection>,
) -> Result<Json<ConnectionList>, AdminError> {
    let admin = console(&state)?;
    if !same_origin(&headers) {
        return Err(AdminError::CrossOrigin);
    }
    admin.sessions.find(&headers).ok_or(AdminError::SessionRequired)?;
    admin.sessions.authorize(&headers).ok_or(AdminError::Csrf)?;
    let Query(query) = query.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let tenant = match query.tenant.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => TenantId::parse(t)?,
        None => TenantId::default_tenant(),
    };
    let now = Utc::now();
    let service = &state.api.service;
    let (views, user_id) = match query.user_id.as_deref().filter(|u| !u.is_empty()) {
        Some(raw) => {
            let user = UserId::parse(raw)?;
            (service.connections_of_user(&UserKey::new(tenant.clone(), user), now), Some(raw.to_owned()))
        }
        None => (service.connections_in_tenant(&tenant, now), None),
    };
    let mut found: Vec<ConnectionInfo> = views.into_iter().map(describe).collect();
    found.sort_by_key(|c| std::cmp::Reverse(c.connection_id));
    let total = found.len();
    found.truncate(MAX_LISTED);
    Ok(Json(ConnectionList {
        tenant_id: tenant.as_str().to_owned(),
        user_id,
        truncated: total > found.len(),
        total,
        connections: found,
    }))
}

fn describe(view: ConnectionView) -> ConnectionInfo {
    ConnectionInfo {
        connection_id: view.id.0,
        user_id: view.user.as_str().to_owned(),
        transport: view.transport,
        connected_at: view.connected_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        idle_ms: view.idle_ms,
        channels: view.channels.iter().map(|c| c.as_str().to_owned()).collect(),
    }
}

//! `GET /api/v1/audit`: administrative actions, newest first, for the admin key; and the record each
//! administrative route writes (who: the caller's key kind; where from: the peer address and the
//! request id).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::caller::{Caller, CallerKind};
use super::error::{ApiError, Body as ErrorResponse};
use super::request_id::RequestId;
use super::state::AppState;
use crate::domain::audit::{AuditEvent, AuditRecord};
use crate::domain::TenantId;
use crate::ports::AuditError;

const MAX_PAGE: usize = 500;

/// Who is acting and from where, for the audit record of an administrative route.
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub actor: &'static str,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
}

impl AuditContext {
    pub fn record(&self, tenant: &TenantId, action: &str, target: &str, details: serde_json::Value) -> AuditRecord {
        AuditRecord {
            at: chrono::Utc::now(),
            actor: self.actor.to_owned(),
            tenant: tenant.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            details,
            source_ip: self.source_ip.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

fn actor(kind: &CallerKind) -> &'static str {
    match kind {
        CallerKind::ApiKey => "api_key",
        CallerKind::Admin => "admin",
        CallerKind::TenantKey => "tenant_key",
        CallerKind::Open => "open",
    }
}

impl FromRequestParts<AppState> for AuditContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        let caller = parts.extensions.get::<Caller>();
        Ok(Self {
            actor: caller.map_or("open", |c| actor(&c.kind)),
            source_ip: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()),
            request_id: parts.extensions.get::<RequestId>().map(|r| r.as_str().to_owned()),
        })
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// At most this many events (1–500, default 50).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page: events older than it.
    pub cursor: Option<i64>,
    /// Only this tenant's events.
    pub tenant_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEventView {
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub tenant_id: String,
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEventView>,
    /// Pass as `cursor` for the next (older) page; `null` on the last.
    pub next_cursor: Option<i64>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        let r = e.record;
        Self {
            id: e.id,
            at: r.at,
            actor: r.actor,
            tenant_id: r.tenant.to_string(),
            action: r.action,
            target: r.target,
            details: r.details,
            source_ip: r.source_ip,
            request_id: r.request_id,
        }
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Unavailable(_) => ApiError::Unavailable { code: "AUDIT_UNAVAILABLE", message: e.to_string() },
            AuditError::Unexpected(source) => ApiError::Internal(source),
        }
    }
}

/// Administrative actions (disconnects, revocations, tenant and key changes), newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "access", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "ADMIN_KEY_REQUIRED", body = ErrorResponse),
        (status = 503, description = "AUDIT_UNAVAILABLE", body = ErrorResponse)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Option<axum::Extension<Caller>>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    if !caller.is_some_and(|c| matches!(c.0.kind, CallerKind::Admin)) {
        return Err(ApiError::Forbidden {
            code: "ADMIN_KEY_REQUIRED",
            message: "the audit log takes ADMIN_API_KEY in X-API-Key".into(),
        });
    }
    let Query(query) = query.map_err(|e| ApiError::BadRequest { code: "INVALID_QUERY", message: e.body_text() })?;
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::BadRequest { code: "VALIDATION_ERROR", message: format!("limit must be 1-{MAX_PAGE}") });
    }
    let tenant = query.tenant_id.as_deref().map(TenantId::parse).transpose()?;
    let events = state.service.audit_page(tenant.as_ref(), query.cursor, limit).await?;
    let next_cursor = if events.len() == limit { events.last().map(|e| e.id) } else { None };
    Ok(Json(AuditPage { events: events.into_iter().map(Into::into).collect(), next_cursor }))
}

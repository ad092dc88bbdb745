//! The Tenant API (`ADMIN_API_KEY`, `TENANT_ENABLED`): `POST/GET /api/v1/tenants`,
//! `GET/PUT/DELETE /api/v1/tenants/{tenant_id}`, `POST /api/v1/tenants/{tenant_id}/suspend|activate`,
//! and the tenant's keys (`tenant_keys.rs`). A tenant reads as the reference shows it
//! (`tenant_id`, `connections`, `users`, `channels`, `messages_today`) plus its settings and how much
//! of each quota it uses. Counts are this node's.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::audit::AuditContext;
use super::caller::Admin;
use super::error::{ApiError, Body as ErrorResponse};
use super::extract::ApiJson;
use super::state::AppState;
use super::tenant_keys;
use super::tenant_views::token_keys;
pub use super::tenant_views::{
    view, views, LimitsBody, QuotaUsage, QuotaView, TenantList, TenantView, TokenKeyBody, TokenKeyView,
};
use crate::domain::{TenantId, TenantStatus};
use crate::service::tenants::{TenantChange, TenantManager};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tenants", get(list_tenants).post(create_tenant))
        .route("/api/v1/tenants/{tenant_id}", get(get_tenant).put(update_tenant).delete(delete_tenant))
        .route("/api/v1/tenants/{tenant_id}/suspend", post(suspend_tenant))
        .route("/api/v1/tenants/{tenant_id}/activate", post(activate_tenant))
        .merge(tenant_keys::routes())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// 1–64 characters of `A-Z a-z 0-9 _ . -`; its environment stem (upper-cased, `-`/`.` → `_`) must be
    /// free and not `DEFAULT`.
    #[schema(value_type = TenantId)]
    pub tenant_id: String,
    /// For people (default: the id).
    pub name: Option<String>,
    pub limits: Option<LimitsBody>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// The keys its client tokens are verified with (default none: the server's `JWT_*` keys).
    pub token_keys: Option<Vec<TokenKeyBody>>,
}

/// What a `PUT` changes: given fields replace the stored ones (`limits` as a whole), others stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    /// If given, must be the path's.
    #[schema(value_type = Option<TenantId>)]
    pub tenant_id: Option<String>,
    pub name: Option<String>,
    pub limits: Option<LimitsBody>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Replaces the token keys as a whole; a token signed by a key no longer listed is refused
    /// (`UNKNOWN_KEY`) from then on. `[]`: back to the server's keys.
    pub token_keys: Option<Vec<TokenKeyBody>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedTenant {
    pub tenant_id: String,
    pub deleted: bool,
    /// Live connections that were closed (close code 4404).
    pub closed_connections: usize,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Delete even with live connections, closing them.
    #[serde(default)]
    pub force: bool,
}

pub(super) fn manager(state: &AppState) -> Result<&TenantManager, ApiError> {
    state.tenants.as_deref().ok_or_else(|| ApiError::FeatureDisabled("tenants are not managed".into()))
}

pub(super) fn tenant_id(raw: &str) -> Result<TenantId, ApiError> {
    Ok(TenantId::parse(raw)?)
}

/// Every tenant, ordered by id.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants",
    responses((status = 200, body = TenantList), (status = 401, body = ErrorResponse),
        (status = 403, description = "ADMIN_KEY_REQUIRED", body = ErrorResponse),
        (status = 404, description = "FEATURE_DISABLED", body = ErrorResponse)))]
pub async fn list_tenants(State(state): State<AppState>, _: Admin) -> Result<Json<TenantList>, ApiError> {
    let manager = manager(&state)?;
    let tenants: Vec<TenantView> = views(&state, manager, manager.list()).await;
    Ok(Json(TenantList { total: tenants.len(), tenants }))
}

/// Creates a tenant (active).
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = CreateTenant,
    responses((status = 201, body = TenantView, headers(("location" = String, description = "The tenant's URL"))),
        (status = 400, description = "VALIDATION_ERROR, UNKNOWN_FIELD, INVALID_JSON", body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 403, description = "ADMIN_KEY_REQUIRED", body = ErrorResponse),
        (status = 409, description = "TENANT_CONFLICT (the id, or its environment stem, is taken)", body = ErrorResponse)))]
pub async fn create_tenant(
    State(state): State<AppState>,
    _: Admin,
    audit: AuditContext,
    ApiJson(req): ApiJson<CreateTenant>,
) -> Result<(StatusCode, [(header::HeaderName, String); 1], Json<TenantView>), ApiError> {
    let manager = manager(&state)?;
    let id = tenant_id(&req.tenant_id)?;
    let change = TenantChange {
        name: req.name,
        limits: req.limits.map(Into::into),
        metadata: req.metadata,
        token_keys: token_keys(req.token_keys),
    };
    let details = change_details(&change);
    let tenant = manager.create(id, change).await?;
    state.service.record_audit(audit.record(&tenant.id, "tenant.create", tenant.id.as_str(), details)).await;
    let location = format!("/api/v1/tenants/{}", tenant.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(view(&state, manager, tenant).await)))
}

/// One tenant with its counts and quota usage.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = TenantId, Path, description = "Tenant id")),
    responses((status = 200, body = TenantView), (status = 400, description = "VALIDATION_ERROR (not a tenant id, or a bad query)", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "ADMIN_KEY_REQUIRED", body = ErrorResponse),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorResponse)))]
pub async fn get_tenant(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    let manager = manager(&state)?;
    let tenant = manager.get(&tenant_id(&raw)?)?;
    Ok(Json(view(&state, manager, tenant).await))
}

/// Changes a tenant's name, limits (replaced whole) or metadata; limits apply at once, to open
/// connections' next check too.
#[utoipa::path(put, path = "/api/v1/tenants/{tenant_id}", tag = "tenants", request_body = UpdateTenant,
    params(("tenant_id" = TenantId, Path, description = "Tenant id")),
    responses((status = 200, body = TenantView),
        (status = 400, description = "VALIDATION_ERROR, UNKNOWN_FIELD, INVALID_JSON, INVALID_REQUEST", body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 403, description = "ADMIN_KEY_REQUIRED", body = ErrorResponse),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorResponse)))]
pub async fn update_tenant(
    State(state): State<AppState>,
    _: Admin,
    audit: AuditContext,
    Path(raw): Path<String>,
    ApiJson(req): ApiJson<UpdateTenant>,
) -> Result<Json<TenantView>, ApiError> {
    let manager = manager(&state)?;
    let id = tenant_id(&raw)?;
    if req.tenant_id.as_deref().is_some_and(|given| given != id.as_str()) {
        return Err(ApiError::BadRequest {
            code: "INVALID_REQUEST",
            message: "the tenant_id in the body must match the path: tenant ids cannot be changed".into(),
        });
    }
    let change = TenantChange {
        name: req.name,
        limits: req.limits.map(Into::into),
        metadata: req.metadata,
        token_keys: token_keys(req.token_keys),
    };
    let details = change_details(&change);
    let tenant = manager.update(&id, change).await?;
    state.service.record_audit(audit.record(&id, "tenant.update", id.as_str(), details)).await;
    Ok(Json(view(&state, manager, tenant).await))
}

/// Deletes a tenant and its keys. With live connections it needs `?force=true`, and closes them
/// (WebSocket close code 4404).
#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = TenantId, Path, description = "Tenant id"), DeleteQuery),
    responses((status = 200, body = DeletedTenant), (status = 400, description = "VALIDATION_ERROR (not a tenant id, or a bad query)", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "ADMIN_KEY_REQUIRED", body = ErrorResponse),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorResponse),
        (status = 409, description = "TENANT_HAS_CONNECTIONS (without force), TENANT_CONFLICT (`default`)", body = ErrorResponse)))]
pub async fn delete_tenant(
    State(state): State<AppState>,
    _: Admin,
    audit: AuditContext,
    Path(raw): Path<String>,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DeletedTenant>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest { code: "INVALID_REQUEST", message: e.body_text() })?;
    let manager = manager(&state)?;
    let id = tenant_id(&raw)?;
    let closed_connections = manager.delete(&id, query.force).await?;
    let details = serde_json::json!({"force": query.force, "closed_connections": closed_connections});
    state.service.record_audit(audit.record(&id, "tenant.delete", id.as_str(), details)).await;
    Ok(Json(DeletedTenant { tenant_id: id.to_string(), deleted: true, closed_connections }))
}

/// Suspends a tenant: its API calls get `403 TENANT_SUSPENDED`, its connections are closed (WebSocket
/// close code 4403, SSE's last `error` event `TENANT_SUSPENDED`) and new ones refused.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/suspend", tag = "tenants",
    params(("tenant_id" = TenantId, Path, description = "Tenant id")),
    responses((status = 200, body = TenantView), (status = 400, description = "VALIDATION_ERROR (not a tenant id, or a bad query)", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "ADMIN_KEY_REQUIRED", body = ErrorResponse),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorResponse)))]
pub async fn suspend_tenant(
    State(state): State<AppState>,
    _: Admin,
    audit: AuditContext,
    Path(raw): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    set_status(&state, &audit, &raw, TenantStatus::Suspended).await
}

/// Lets a suspended tenant act again.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/activate", tag = "tenants",
    params(("tenant_id" = TenantId, Path, description = "Tenant id")),
    responses((status = 200, body = TenantView), (status = 400, description = "VALIDATION_ERROR (not a tenant id, or a bad query)", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "ADMIN_KEY_REQUIRED", body = ErrorResponse),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorResponse)))]
pub async fn activate_tenant(
    State(state): State<AppState>,
    _: Admin,
    audit: AuditContext,
    Path(raw): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    set_status(&state, &audit, &raw, TenantStatus::Active).await
}

async fn set_status(
    state: &AppState,
    audit: &AuditContext,
    raw: &str,
    status: TenantStatus,
) -> Result<Json<TenantView>, ApiError> {
    let manager = manager(state)?;
    let id = tenant_id(raw)?;
    let tenant = manager.set_status(&id, status).await?;
    let action = match status {
        TenantStatus::Suspended => "tenant.suspend",
        TenantStatus::Active => "tenant.activate",
    };
    state.service.record_audit(audit.record(&id, action, id.as_str(), serde_json::json!({}))).await;
    Ok(Json(view(state, manager, tenant).await))
}

/// What a create or update changes, for the audit log: which parts, and the token keys by `kid`
/// only (an HS256 key is a secret).
fn change_details(change: &TenantChange) -> serde_json::Value {
    serde_json::json!({
        "name": change.name,
        "limits_changed": change.limits.is_some(),
        "metadata_changed": change.metadata.is_some(),
        "token_keys": change.token_keys.as_ref().map(Vec::len),
    })
}

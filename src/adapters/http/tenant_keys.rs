//! A tenant's API keys (`ADMIN_API_KEY`): `POST/GET /api/v1/tenants/{tenant_id}/keys`,
//! `POST /api/v1/tenants/{tenant_id}/keys/{key_id}/rotate`, `DELETE /api/v1/tenants/{tenant_id}/keys/{key_id}`.
//! A key is shown once, when it is made; afterwards only its prefix (`ara_tk_<key_id>`) is listed.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::audit::AuditContext;
use super::caller::Admin;
use super::error::{ApiError, Body as ErrorResponse};
use super::state::AppState;
use super::tenants::{manager, tenant_id};
use crate::domain::{TenantId, TenantKey};
use crate::service::tenants::CreatedKey;

/// Longest grace a rotated key may keep working.
const MAX_GRACE_SECONDS: u64 = 30 * 24 * 3600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tenants/{tenant_id}/keys", get(list_keys).post(create_key))
        .route("/api/v1/tenants/{tenant_id}/keys/{key_id}/rotate", post(rotate_key))
        .route("/api/v1/tenants/{tenant_id}/keys/{key_id}", delete(revoke_key))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub key_id: String,
    /// What identifies the key in lists: `ara_tk_<key_id>`.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    /// When it stops (or stopped) working; `null` while it has no end.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether it works now.
    pub active: bool,
}

impl From<TenantKey> for KeyView {
    fn from(k: TenantKey) -> Self {
        Self {
            prefix: k.prefix(),
            active: k.is_valid_at(Utc::now()),
            key_id: k.id,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A new key: `key` is shown this once; Ara keeps only its SHA-256.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewKey {
    /// Send it as `X-API-Key`.
    pub key: String,
    #[serde(flatten)]
    pub view: KeyView,
    /// Rotation only: the key it replaces, and when that one stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub replaces: Option<KeyView>,
}

impl NewKey {
    fn of(created: CreatedKey, replaces: Option<KeyView>) -> Self {
        Self { key: created.key, view: created.stored.into(), replaces }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
    pub total: usize,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RotateQuery {
    /// How long the old key keeps working (0–2592000 seconds, default 0: it stops at once).
    #[serde(default)]
    pub grace_seconds: u64,
}

/// The tenant's keys, oldest first (prefixes only).
#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/keys", tag = "tenants",
    params(("tenant_id" = TenantId, Path, description = "Tenant id")),
    responses((status = 200, body = KeyList), (status = 400, description = "VALIDATION_ERROR (not a tenant id, or a bad query)", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "ADMIN_KEY_REQUIRED", body = ErrorResponse),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorResponse)))]
pub async fn list_keys(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
) -> Result<Json<KeyList>, ApiError> {
    let keys: Vec<KeyView> = manager(&state)?.keys(&tenant_id(&raw)?)?.into_iter().map(Into::into).collect();
    Ok(Json(KeyList { total: keys.len(), keys }))
}

/// Makes a key that acts in this tenant only; the answer is the only time it is shown.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/keys", tag = "tenants",
    params(("tenant_id" = TenantId, Path, description = "Tenant id")),
    responses((status = 201, body = NewKey), (status = 400, description = "VALIDATION_ERROR (not a tenant id, or a bad query)", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "ADMIN_KEY_REQUIRED", body = ErrorResponse),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorResponse)))]
pub async fn create_key(
    State(state): State<AppState>,
    _: Admin,
    audit: AuditContext,
    Path(raw): Path<String>,
) -> Result<(StatusCode, Json<NewKey>), ApiError> {
    let id = tenant_id(&raw)?;
    let created = manager(&state)?.create_key(&id).await?;
    let details = serde_json::json!({"key_id": created.stored.id});
    state.service.record_audit(audit.record(&id, "tenant.key.create", &created.stored.id, details)).await;
    Ok((StatusCode::CREATED, Json(NewKey::of(created, None))))
}

/// Makes a new key and ends the old one, at once or after `grace_seconds`.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/keys/{key_id}/rotate", tag = "tenants",
    params(("tenant_id" = TenantId, Path, description = "Tenant id"), ("key_id" = String, Path, description = "Key id"), RotateQuery),
    responses((status = 201, body = NewKey), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 403, description = "ADMIN_KEY_REQUIRED", body = ErrorResponse),
        (status = 404, description = "TENANT_NOT_FOUND or KEY_NOT_FOUND", body = ErrorResponse)))]
pub async fn rotate_key(
    State(state): State<AppState>,
    _: Admin,
    audit: AuditContext,
    Path((raw, key_id)): Path<(String, String)>,
    query: Result<Query<RotateQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<(StatusCode, Json<NewKey>), ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest { code: "INVALID_REQUEST", message: e.body_text() })?;
    if query.grace_seconds > MAX_GRACE_SECONDS {
        return Err(ApiError::BadRequest {
            code: "VALIDATION_ERROR",
            message: format!("grace_seconds must be at most {MAX_GRACE_SECONDS}"),
        });
    }
    let manager = manager(&state)?;
    let id = tenant_id(&raw)?;
    let created = manager.rotate_key(&id, &key_id, std::time::Duration::from_secs(query.grace_seconds)).await?;
    let old = manager.keys(&id)?.into_iter().find(|k| k.id == key_id).map(KeyView::from);
    let details =
        serde_json::json!({"replaced": key_id, "new_key_id": created.stored.id, "grace_seconds": query.grace_seconds});
    state.service.record_audit(audit.record(&id, "tenant.key.rotate", &key_id, details)).await;
    Ok((StatusCode::CREATED, Json(NewKey::of(created, old))))
}

/// Revokes a key at once; it stays listed, inactive.
#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}/keys/{key_id}", tag = "tenants",
    params(("tenant_id" = TenantId, Path, description = "Tenant id"), ("key_id" = String, Path, description = "Key id")),
    responses((status = 200, body = KeyView), (status = 400, description = "VALIDATION_ERROR (not a tenant id, or a bad query)", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "ADMIN_KEY_REQUIRED", body = ErrorResponse),
        (status = 404, description = "TENANT_NOT_FOUND or KEY_NOT_FOUND", body = ErrorResponse)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    _: Admin,
    audit: AuditContext,
    Path((raw, key_id)): Path<(String, String)>,
) -> Result<Json<KeyView>, ApiError> {
    let id = tenant_id(&raw)?;
    let revoked = manager(&state)?.revoke_key(&id, &key_id).await?;
    state.service.record_audit(audit.record(&id, "tenant.key.revoke", &key_id, serde_json::json!({}))).await;
    Ok(Json(revoked.into()))
}

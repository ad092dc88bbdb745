//! Ending access: `POST /api/v1/users/{user_id}/disconnect` and `POST /api/v1/tokens/revoke`, in the
//! tenant the caller acts in (its key's, or `X-Tenant-Id` with the admin key).

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::audit::AuditContext;
use super::caller::Acting;
use super::error::{ApiError, Body as ErrorResponse};
use super::state::AppState;
use crate::domain::{ConnectionId, Quoted, UserId, UserKey};
use crate::ports::RevocationError;

/// `POST /api/v1/users/{user_id}/disconnect`; the body may be left out (all connections, reconnecting
/// allowed).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectRequest {
    /// Only this connection (the `connection_id` of its `connected` frame); all of the user's when
    /// left out.
    #[schema(value_type = Option<u64>)]
    pub connection_id: Option<ConnectionId>,
    /// Whether the client may connect again at once with the token it has (default `true`). With
    /// `false` the token (one connection: its `jti`) or every token of the user issued until now (all
    /// connections) is revoked first.
    pub reconnect: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisconnectResponse {
    pub user_id: String,
    /// Live connections closed (on this node; other nodes close theirs when they learn of the
    /// revocation, only with `reconnect: false`).
    pub disconnected: usize,
    pub reconnect: bool,
}

/// `POST /api/v1/tokens/revoke`: either `jti` (one token) or `user_id` (every token of the user issued
/// before `issued_before`, default now).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    pub jti: Option<String>,
    /// With `jti`: the token's `exp` (Unix seconds), so the revocation is kept exactly as long as it
    /// matters; without it, `REVOCATION_MAX_TOKEN_LIFETIME_SECONDS` from now.
    pub expires_at: Option<i64>,
    pub user_id: Option<String>,
    /// With `user_id`: tokens issued (`iat`) before this moment are revoked, and tokens without `iat`.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub issued_before: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevokeResponse {
    /// `token` or `issued_before`.
    pub revoked: &'static str,
    /// Live connections on this node closed at once.
    pub connections_closed: usize,
}

impl From<RevocationError> for ApiError {
    fn from(e: RevocationError) -> Self {
        match e {
            RevocationError::Unavailable(ref source) => {
                tracing::error!(error = %crate::domain::ErrorChain(source.as_ref()), "revocation store unavailable");
                ApiError::Unavailable { code: "REVOCATION_UNAVAILABLE", message: e.to_string() }
            }
            RevocationError::Unexpected(source) => ApiError::Internal(source),
        }
    }
}

/// A JSON body that may be absent; unknown fields are refused as everywhere.
fn optional_body<T: Default + serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        match super::extract::unknown_field(&message) {
            Some(m) => ApiError::BadRequest { code: "UNKNOWN_FIELD", message: m.to_owned() },
            None if e.is_syntax() || e.is_eof() => {
                ApiError::BadRequest { code: "INVALID_JSON", message: format!("malformed JSON: {message}") }
            }
            None => ApiError::BadRequest { code: "INVALID_REQUEST", message },
        }
    })
}

/// Closes a user's live connections, all or one.
#[utoipa::path(post, path = "/api/v1/users/{user_id}/disconnect", tag = "access",
    params(("user_id" = crate::domain::UserId, Path, description = "User id")),
    request_body(content = Option<DisconnectRequest>, description = "Optional"),
    responses((status = 200, body = DisconnectResponse), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 404, description = "CONNECTION_NOT_FOUND", body = ErrorResponse),
        (status = 503, description = "REVOCATION_UNAVAILABLE", body = ErrorResponse)))]
pub async fn disconnect(
    State(state): State<AppState>,
    acting: Acting,
    audit: AuditContext,
    Path(user_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<DisconnectResponse>, ApiError> {
    let request: DisconnectRequest = optional_body(&body)?;
    let user = UserKey::new(acting.tenant().clone(), UserId::parse(&user_id)?);
    let reconnect = request.reconnect.unwrap_or(true);
    let closed =
        state.service.disconnect(&user, request.connection_id, reconnect).await?.ok_or_else(|| ApiError::Missing {
            code: "CONNECTION_NOT_FOUND",
            message: format!(
                "connection {} is not one of user {}'s on this node",
                request.connection_id.map_or(0, |c| c.0),
                Quoted(&user_id)
            ),
        })?;
    let details = serde_json::json!({
        "connection_id": request.connection_id.map(|c| c.0),
        "reconnect": reconnect,
        "connections_closed": closed.connections,
    });
    state.service.record_audit(audit.record(&user.tenant, "user.disconnect", &user_id, details)).await;
    Ok(Json(DisconnectResponse { user_id, disconnected: closed.connections, reconnect }))
}

/// Revokes one token by `jti`, or a user's tokens issued before a moment.
#[utoipa::path(post, path = "/api/v1/tokens/revoke", tag = "access", request_body = RevokeRequest,
    responses((status = 200, body = RevokeResponse), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 503, description = "REVOCATION_UNAVAILABLE", body = ErrorResponse)))]
pub async fn revoke(
    State(state): State<AppState>,
    acting: Acting,
    audit: AuditContext,
    super::extract::ApiJson(request): super::extract::ApiJson<RevokeRequest>,
) -> Result<Json<RevokeResponse>, ApiError> {
    let tenant = acting.tenant().clone();
    let invalid = |message: &str| ApiError::BadRequest { code: "VALIDATION_ERROR", message: message.to_owned() };
    match (request.jti, request.user_id) {
        (Some(jti), None) => {
            if request.issued_before.is_some() {
                return Err(invalid("issued_before goes with user_id, not jti"));
            }
            if jti.is_empty() || jti.len() > 256 {
                return Err(invalid("jti must be 1-256 characters"));
            }
            let expires_at = match request.expires_at {
                None => None,
                Some(secs) => {
                    Some(DateTime::from_timestamp(secs, 0).ok_or_else(|| invalid("expires_at is out of range"))?)
                }
            };
            let closed = state.service.revoke_token(&tenant, &jti, expires_at).await?;
            let details =
                serde_json::json!({"expires_at": request.expires_at, "connections_closed": closed.connections});
            state.service.record_audit(audit.record(&tenant, "token.revoke", &jti, details)).await;
            Ok(Json(RevokeResponse { revoked: "token", connections_closed: closed.connections }))
        }
        (None, Some(user_id)) => {
            if request.expires_at.is_some() {
                return Err(invalid("expires_at goes with jti, not user_id"));
            }
            let user = UserKey::new(tenant, UserId::parse(&user_id)?);
            let before = request.issued_before.unwrap_or_else(Utc::now);
            let closed = state.service.revoke_issued_before(&user, before).await?;
            let details = serde_json::json!({"issued_before": before, "connections_closed": closed.connections});
            state
                .service
                .record_audit(audit.record(&user.tenant, "token.revoke_issued_before", &user_id, details))
                .await;
            Ok(Json(RevokeResponse { revoked: "issued_before", connections_closed: closed.connections }))
        }
        _ => Err(invalid("give exactly one of jti and user_id")),
    }
}

//! Authenticates a client and registers its connection before any upgrade or stream starts, so that
//! every refusal is a plain HTTP status with a structured body.

use axum::http::{header, HeaderMap, StatusCode};
use serde::Deserialize;
use uuid::Uuid;

use super::Registration;
use crate::adapters::auth::AuthError;
use crate::adapters::http::{ApiError, AppState};
use crate::delivery::{connection_queue, QueueReceiver};
use crate::domain::Identity;
use crate::service::Transport;

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}

/// The token from `?token=` or, failing that, `Authorization: Bearer`.
pub fn bearer_token(query: Option<String>, headers: &HeaderMap) -> Option<String> {
    query.filter(|t| !t.is_empty()).or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|t| t.trim().to_owned())
    })
}

/// Verifies the client's token; refuses new connections once shutdown has begun.
pub fn authenticate(state: &AppState, token: Option<String>, headers: &HeaderMap) -> Result<Identity, ApiError> {
    if state.shutdown.is_cancelled() {
        return Err(ApiError::TooManyConnections {
            code: "SHUTTING_DOWN",
            message: "server is shutting down".into(),
            status: StatusCode::SERVICE_UNAVAILABLE,
        });
    }
    let token = bearer_token(token, headers).ok_or(AuthError::Missing)?;
    Ok(state.jwt.verify(&token)?)
}

/// Registers the connection, replaying its user's offline queue into it first.
pub async fn open_connection(
    state: &AppState,
    identity: Identity,
    transport: Transport,
    resume_after: Option<Uuid>,
) -> Result<(Registration, QueueReceiver), ApiError> {
    let (sink, receiver) = connection_queue(state.ws.outbound_queue_size, state.ws.slow_consumer_policy);
    let entry = state.notifier.connect(identity, transport, sink, resume_after).await?;
    Ok((Registration::new(state.registry.clone(), entry, state.metrics.clone()), receiver))
}

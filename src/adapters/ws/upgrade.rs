//! Authenticates and registers a connection before the upgrade, so refusals are HTTP statuses.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::session;
use crate::adapters::auth::AuthError;
use crate::adapters::connection::channel_sink;
use crate::adapters::http::{ApiError, AppState};
use crate::service::{ConnectionRegistry, RegisterError, Transport};

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// The token from `?token=` or, failing that, `Authorization: Bearer`.
pub fn bearer_token(query: Option<String>, headers: &HeaderMap) -> Option<String> {
    query.filter(|t| !t.is_empty()).or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_owned())
    })
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        let (code, status) = match e {
            RegisterError::ServerFull { .. } => ("SERVER_FULL", StatusCode::SERVICE_UNAVAILABLE),
            RegisterError::UserLimit { .. } => {
                ("USER_CONNECTION_LIMIT", StatusCode::TOO_MANY_REQUESTS)
            }
        };
        ApiError::TooManyConnections {
            code,
            message: e.to_string(),
            status,
        }
    }
}

/// Unregisters the connection when dropped, whether the upgrade happened or not.
pub(super) struct Registration {
    pub registry: Arc<ConnectionRegistry>,
    pub entry: Arc<crate::service::ConnectionEntry>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.unregister(self.entry.id);
    }
}

pub async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    if state.shutdown.is_cancelled() {
        return Err(ApiError::TooManyConnections {
            code: "SHUTTING_DOWN",
            message: "server is shutting down".into(),
            status: StatusCode::SERVICE_UNAVAILABLE,
        });
    }
    let token = bearer_token(query.token, &headers).ok_or(AuthError::Missing)?;
    let identity = state.jwt.verify(&token)?;
    let ws = ws.map_err(|e| ApiError::BadRequest {
        code: "WEBSOCKET_UPGRADE_REQUIRED",
        message: format!("this endpoint only accepts WebSocket upgrades: {}", e.body_text()),
    })?;
    let (sink, receiver) = channel_sink(state.ws.outbound_queue_size);
    let entry = state.notifier.connect(identity, Transport::WebSocket, sink).await?;
    let registration = Registration {
        registry: state.registry.clone(),
        entry,
    };
    let tasks = state.tasks.clone();
    let max = state.ws.max_message_bytes;
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            tasks.track_future(session::run(socket, state, registration, receiver))
        }))
}

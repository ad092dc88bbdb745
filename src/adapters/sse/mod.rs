//! The Server-Sent Events transport: `GET /sse?token=JWT[&channels=a,b]`, for clients that cannot use
//! WebSocket. It shares the registry, limits and offline-queue replay with WebSocket; a browser
//! `EventSource` that reconnects with `Last-Event-ID` gets the queued notifications after that id.

mod stream;
mod watchdog;

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::sse::Sse;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use uuid::Uuid;

use crate::adapters::connection::bearer_token;
use crate::adapters::http::{ApiError, ConnectionAbort};
use crate::domain::{ChannelName, Transport};
use crate::ports::DynTransportMetrics;
use crate::service::NotificationService;

/// What the SSE handler shares.
#[derive(Clone)]
pub struct SseState {
    pub service: Arc<NotificationService>,
    pub metrics: DynTransportMetrics,
}

/// `GET /sse`.
pub fn router(state: SseState) -> Router {
    Router::new().route("/sse", get(connect)).with_state(state)
}

#[derive(Debug, Deserialize)]
pub struct SseQuery {
    token: Option<String>,
    /// Comma-separated channels to subscribe to at once.
    channels: Option<String>,
}

pub async fn connect(
    State(state): State<SseState>,
    Query(query): Query<SseQuery>,
    abort: Option<Extension<ConnectionAbort>>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let token = state.service.authenticate(bearer_token(query.token, &headers).as_deref()).await?;
    let channels: Vec<ChannelName> = query
        .channels
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(ChannelName::parse)
        .collect::<Result<_, _>>()?;
    // An id the client made up is ignored, not an error: the browser sends back whatever it last saw.
    let resume_after =
        headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| Uuid::parse_str(v.trim()).ok());
    let (handle, receiver) = state.service.connect_verified(token, Transport::Sse, resume_after, &channels).await?;
    let abort = abort.map(|Extension(abort)| abort);
    // The stream is the connection's only use: once it ends, the connection goes too, rather than
    // wait as a keep-alive connection (EventSource reconnects on a new one anyway).
    let close = [(header::CONNECTION, HeaderValue::from_static("close"))];
    Ok((close, Sse::new(stream::events(handle, receiver, state, abort))))
}

//! The Server-Sent Events transport: `GET /sse?token=JWT[&channels=a,b]`, for clients that cannot use
//! WebSocket. It shares the registry, limits and offline-queue replay with WebSocket; a browser
//! `EventSource` that reconnects with `Last-Event-ID` gets the queued notifications after that id.

mod stream;
mod watchdog;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::sse::Sse;
use axum::response::IntoResponse;
use axum::Extension;
use serde::Deserialize;
use uuid::Uuid;

use crate::adapters::connection::{authenticate, open_connection};
use crate::adapters::http::{ApiError, AppState, ConnectionAbort};
use crate::domain::ChannelName;
use crate::service::{SubscribeError, Transport};

#[derive(Debug, Deserialize)]
pub struct SseQuery {
    token: Option<String>,
    /// Comma-separated channels to subscribe to at once.
    channels: Option<String>,
}

pub async fn connect(
    State(state): State<AppState>,
    Query(query): Query<SseQuery>,
    abort: Option<Extension<ConnectionAbort>>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let identity = authenticate(&state, query.token, &headers)?;
    let channels: Vec<ChannelName> = query
        .channels
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(ChannelName::parse)
        .collect::<Result<_, _>>()?;
    // Refused before the connection exists, so a refusal replays (and tracks) nothing.
    let distinct = channels.iter().collect::<std::collections::HashSet<_>>().len();
    let max = state.registry.limits().max_subscriptions_per_connection;
    if distinct > max {
        return Err(ApiError::BadRequest {
            code: "SUBSCRIPTION_LIMIT",
            message: SubscribeError::TooMany { max }.to_string(),
        });
    }
    // An id the client made up is ignored, not an error: the browser sends back whatever it last saw.
    let resume_after =
        headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| Uuid::parse_str(v.trim()).ok());
    let (registration, receiver) = open_connection(&state, identity, Transport::Sse, resume_after).await?;
    if !channels.is_empty() {
        state.registry.subscribe(&registration.entry, &channels).map_err(|e| match e {
            SubscribeError::TooMany { .. } => {
                ApiError::BadRequest { code: "SUBSCRIPTION_LIMIT", message: e.to_string() }
            }
            SubscribeError::Closed => ApiError::Unavailable { code: "CONNECTION_CLOSED", message: e.to_string() },
        })?;
    }
    let abort = abort.map(|Extension(abort)| abort);
    // The stream is the connection's only use: once it ends, the connection goes too, rather than
    // wait as a keep-alive connection (EventSource reconnects on a new one anyway).
    let close = [(header::CONNECTION, HeaderValue::from_static("close"))];
    Ok((close, Sse::new(stream::events(registration, receiver, state, abort))))
}

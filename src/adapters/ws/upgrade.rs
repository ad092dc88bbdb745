//! Authenticates and connects before the upgrade, so refusals are HTTP statuses.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{session, WsState};
use crate::adapters::connection::{bearer_token, TokenQuery};
use crate::adapters::http::ApiError;
use crate::domain::Transport;

const READ_BUFFER_BYTES: usize = 512;
/// Frames queued on the socket are written out once they pass this size. tungstenite's write buffer
/// keeps the capacity of its largest burst for the connection's life, so the default (128 KiB) let
/// every connection that once had a backlog hold up to 128 KiB; 4 KiB still packs dozens of typical
/// notifications into one `send`.
const WRITE_BUFFER_BYTES: usize = 4096;

pub async fn upgrade(
    State(state): State<WsState>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let token = state.service.authenticate(bearer_token(query.token, &headers).as_deref()).await?;
    // A plain HTTP request must not register a connection.
    let ws = ws.map_err(|e| ApiError::BadRequest {
        code: "WEBSOCKET_UPGRADE_REQUIRED",
        message: format!("this endpoint only accepts WebSocket upgrades: {}", e.body_text()),
    })?;
    let (handle, receiver) = state.service.connect_verified(token, Transport::WebSocket, None, &[]).await?;
    let tasks = state.tasks.clone();
    let max = handle.policy().max_message_bytes;
    // tungstenite's default 128 KiB read buffer is zero-filled before every read and stays resident per
    // connection; client frames are small (a larger one is read in several chunks), so a small buffer
    // saves ~127 KiB and a memset per wake-up.
    Ok(ws
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| tasks.track_future(session::run(socket, state, handle, receiver))))
}

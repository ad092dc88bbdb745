//! `CORS_ORIGINS` for WebSocket and SSE handshakes. A browser sends `Origin` with both but enforces no
//! CORS on a WebSocket, so without this any web page could open a connection with a token it holds
//! (or, with cookies, one the browser sends for it). Requests without `Origin` come from programs,
//! not browsers, and pass: the token is what authenticates them.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::ORIGIN;
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::live::LiveHttp;

pub async fn check_handshake_origin(State(live): State<Arc<LiveHttp>>, request: Request, next: Next) -> Response {
    if let Some(origin) = request.headers().get(ORIGIN) {
        if !live.allows_origin(origin) {
            let shown = String::from_utf8_lossy(origin.as_bytes()).into_owned();
            return axum::response::IntoResponse::into_response(ApiError::OriginNotAllowed(shown));
        }
    }
    next.run(request).await
}

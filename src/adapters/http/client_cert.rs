//! Mutual TLS for the HTTP API (`SERVER_TLS_CLIENT_CA`): a request is served only if its connection
//! presented a certificate from that CA. The TLS layer has checked the chain already; this only asks
//! whether there was one, so WebSocket and SSE clients, which have none, still connect.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::serve::ClientCertificate;
use super::state::AppState;

pub async fn require_client_certificate(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if state.client_certificates_required && request.extensions().get::<ClientCertificate>().is_none() {
        return Err(ApiError::ClientCertificateRequired);
    }
    Ok(next.run(request).await)
}

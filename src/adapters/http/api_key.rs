//! The `X-API-Key` check for the HTTP API, when a key is configured.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::state::AppState;

pub const HEADER: &str = "x-api-key";

pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(expected) = state.live.api_key() {
        let given = request.headers().get(HEADER).ok_or(ApiError::MissingApiKey)?;
        if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(ApiError::InvalidApiKey);
        }
    }
    Ok(next.run(request).await)
}

/// Compares without an early exit, so response timing does not reveal how much of a key matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn compares_exactly() {
        assert!(super::constant_time_eq(b"key", b"key"));
        assert!(!super::constant_time_eq(b"key", b"kez"));
        assert!(!super::constant_time_eq(b"key", b"key2"));
    }
}

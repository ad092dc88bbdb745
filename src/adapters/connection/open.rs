//! Where WebSocket and SSE clients put their token.

use axum::http::{header, HeaderMap};
use serde::Deserialize;

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

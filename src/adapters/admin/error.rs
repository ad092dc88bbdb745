//! The dashboard's refusals, in the API's `{"error":{"code","message"}}` shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::session::RandomError;
use crate::domain::ValidationError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("the dashboard is off: set ADMIN_API_KEY to turn it on")]
    Disabled,
    #[error("log in to the dashboard first")]
    SessionRequired,
    #[error("missing or wrong X-CSRF-Token header")]
    Csrf,
    #[error("this request came from another site")]
    CrossOrigin,
    #[error("{0}")]
    Validation(#[from] ValidationError),
    #[error("{0}")]
    BadRequest(String),
    #[error("internal error")]
    Random(#[from] RandomError),
}

impl AdminError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AdminError::Disabled => (StatusCode::NOT_FOUND, "ADMIN_DISABLED"),
            AdminError::SessionRequired => (StatusCode::UNAUTHORIZED, "ADMIN_SESSION_REQUIRED"),
            AdminError::Csrf => (StatusCode::FORBIDDEN, "CSRF_TOKEN_INVALID"),
            AdminError::CrossOrigin => (StatusCode::FORBIDDEN, "CROSS_ORIGIN_REQUEST"),
            AdminError::Validation(_) => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            AdminError::BadRequest(_) => (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            AdminError::Random(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        if let AdminError::Random(e) = &self {
            tracing::error!(error = %e, "cannot start a dashboard session");
        }
        let (status, code) = self.status_and_code();
        let body = serde_json::json!({"error": {"code": code, "message": self.to_string()}});
        (status, Json(body)).into_response()
    }
}

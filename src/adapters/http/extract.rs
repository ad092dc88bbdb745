//! A JSON body extractor whose rejections are structured API errors.

use axum::extract::rejection::JsonRejection;
use axum::extract::FromRequest;
use axum::http::StatusCode;

use super::body_timeout;
use super::error::ApiError;

#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if let JsonRejection::BytesRejection(e) = &rejection {
            if body_timeout::timed_out(e) {
                return ApiError::RequestTimeout;
            }
        }
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ApiError::UnsupportedMediaType("expected Content-Type: application/json".into())
            }
            _ => match rejection {
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::BadRequest { code: "INVALID_JSON", message: format!("malformed JSON: {}", e.body_text()) }
                }
                other => ApiError::BadRequest { code: "INVALID_REQUEST", message: other.body_text() },
            },
        }
    }
}

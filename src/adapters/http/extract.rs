//! A JSON body extractor whose rejections are structured API errors.

use std::error::Error as _;

use axum::extract::rejection::JsonRejection;
use axum::extract::FromRequest;
use axum::http::StatusCode;

use super::body_timeout;
use super::error::ApiError;

/// serde's message for a field the type does not have (from `#[serde(deny_unknown_fields)]`),
/// "unknown field `x`, expected one of …", cut from a deserialization error's message (which may start
/// with the path where it happened). serde gives the case no error kind of its own, so its wording is
/// matched here, in one place (a test pins it).
pub fn unknown_field(message: &str) -> Option<&str> {
    const SERDE: &str = "unknown field `";
    if message.starts_with(SERDE) {
        return Some(message);
    }
    message.find(&format!(": {SERDE}")).map(|at| &message[at + 2..])
}

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
                JsonRejection::JsonDataError(e) => {
                    let detail = e.source().map(|s| s.to_string()).unwrap_or_default();
                    match unknown_field(&detail) {
                        Some(message) => ApiError::BadRequest { code: "UNKNOWN_FIELD", message: message.to_owned() },
                        None => ApiError::BadRequest { code: "INVALID_REQUEST", message: e.body_text() },
                    }
                }
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::BadRequest { code: "INVALID_JSON", message: format!("malformed JSON: {}", e.body_text()) }
                }
                other => ApiError::BadRequest { code: "INVALID_REQUEST", message: other.body_text() },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        known: u8,
    }

    #[test]
    fn recognises_serdes_unknown_field_error_and_nothing_else() {
        let unknown = serde_json::from_str::<Strict>(r#"{"known":1,"knwon":2}"#).unwrap_err().to_string();
        assert_eq!(unknown_field(&unknown), Some(unknown.as_str()));
        assert!(
            unknown.contains("`knwon`") && unknown.contains("`known`"),
            "names the field and the expected: {unknown}"
        );
        assert_eq!(unknown_field(&format!("a.b: {unknown}")), Some(unknown.as_str()), "the path is cut");
        let mistyped = serde_json::from_str::<Strict>(r#"{"known":"unknown field `x`"}"#).unwrap_err().to_string();
        assert_eq!(unknown_field(&mistyped), None, "{mistyped}");
        let missing = serde_json::from_str::<Strict>("{}").unwrap_err().to_string();
        assert_eq!(unknown_field(&missing), None, "{missing}");
    }
}

//! The one place where failures become HTTP responses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::ValidationError;
use crate::ports::AuthError;
use crate::ports::TemplateStoreError;
use crate::service::tenants::{QuotaExceeded, TenantManagerError, TenantRefusal};
use crate::service::{ConnectError, RegisterError, ResolveError, SendError, SendReport, SubscribeError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Validation(#[from] ValidationError),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("request body exceeds the size limit of this endpoint")]
    PayloadTooLarge,
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unauthorized(#[from] AuthError),
    #[error("missing X-API-Key header")]
    MissingApiKey,
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("this API takes requests only over TLS with a client certificate from SERVER_TLS_CLIENT_CA")]
    ClientCertificateRequired,
    #[error("origin {} is not in CORS_ORIGINS", crate::domain::Quoted(.0))]
    OriginNotAllowed(String),
    #[error("{message}")]
    TooManyConnections { code: &'static str, message: String, status: StatusCode },
    #[error("no route for {0}")]
    NotFound(String),
    #[error("{0}")]
    FeatureDisabled(String),
    /// A named resource that does not exist.
    #[error("{message}")]
    Missing { code: &'static str, message: String },
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The resource already exists (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// A send reached its live recipients but not every offline user's queue.
    #[error(
        "notification {} reached {} connection(s) and was queued for {} offline user(s), but not for {failed}: the offline queue is unavailable; retry later",
        report.notification_id, report.delivered_to, report.queued
    )]
    QueueUnavailable { report: SendReport, failed: usize },
    /// The caller may not do this (403).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The acting tenant is unknown, suspended, or over a quota.
    #[error("{0}")]
    Tenant(TenantRefusal),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Every error response: `{"error":{"code","message"}}`, plus `details` where a client can act on them.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorResponse)]
pub struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorDetail)]
pub struct Detail<'a> {
    /// Machine-readable, e.g. `VALIDATION_ERROR`.
    code: &'a str,
    /// For people; never contains internals.
    message: String,
    /// `QUEUE_UNAVAILABLE` only: what the send did before the queue failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    details: Option<PartialSend>,
    /// `TENANT_QUOTA_EXCEEDED` only: the quota, e.g. `sends_per_second` or `max_connections`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    quota: Option<&'a str>,
    /// `TENANT_QUOTA_EXCEEDED` only: the quota's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    limit: Option<u64>,
    /// `TENANT_QUOTA_EXCEEDED` of a rate only: seconds until a retry may succeed (also `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    retry_after_seconds: Option<u64>,
}

/// How far a send got when the offline queue failed: it was delivered live to `delivered_to`
/// connections and queued for `queued` offline users, but not for `not_queued` (retry those).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartialSend {
    notification_id: uuid::Uuid,
    delivered_to: usize,
    offline_users: usize,
    queued: usize,
    not_queued: usize,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            // The token may be valid; the keys to tell are what is missing.
            ApiError::Unauthorized(AuthError::KeysUnavailable) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized(_) | ApiError::MissingApiKey | ApiError::InvalidApiKey => StatusCode::UNAUTHORIZED,
            ApiError::ClientCertificateRequired | ApiError::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyConnections { status, .. } => *status,
            ApiError::NotFound(_) | ApiError::FeatureDisabled(_) | ApiError::Missing { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable { .. } | ApiError::QueueUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::Tenant(TenantRefusal::NotFound(_)) => StatusCode::NOT_FOUND,
            ApiError::Tenant(TenantRefusal::Suspended(_)) => StatusCode::FORBIDDEN,
            // A payload over the tenant's size quota cannot succeed by waiting.
            ApiError::Tenant(TenantRefusal::Quota(q)) if q.quota == "max_payload_bytes" => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::Tenant(TenantRefusal::Quota(_)) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "VALIDATION_ERROR",
            ApiError::BadRequest { code, .. } => code,
            ApiError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ApiError::RequestTimeout => "REQUEST_TIMEOUT",
            ApiError::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::Unauthorized(e) => e.code(),
            ApiError::MissingApiKey => "MISSING_API_KEY",
            ApiError::InvalidApiKey => "INVALID_API_KEY",
            ApiError::ClientCertificateRequired => "CLIENT_CERTIFICATE_REQUIRED",
            ApiError::OriginNotAllowed(_) => "ORIGIN_NOT_ALLOWED",
            ApiError::TooManyConnections { code, .. } => code,
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::FeatureDisabled(_) => "FEATURE_DISABLED",
            ApiError::Missing { code, .. } => code,
            ApiError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ApiError::Conflict { code, .. } => code,
            ApiError::Unavailable { code, .. } => code,
            ApiError::QueueUnavailable { .. } => "QUEUE_UNAVAILABLE",
            ApiError::Forbidden { code, .. } => code,
            ApiError::Tenant(TenantRefusal::NotFound(_)) => "TENANT_NOT_FOUND",
            ApiError::Tenant(TenantRefusal::Suspended(_)) => "TENANT_SUSPENDED",
            ApiError::Tenant(TenantRefusal::Quota(_)) => "TENANT_QUOTA_EXCEEDED",
            ApiError::Internal(_) => "INTERNAL_ERROR",
        }
    }
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        let (code, status) = match e {
            RegisterError::ServerFull { .. } => ("SERVER_FULL", StatusCode::SERVICE_UNAVAILABLE),
            RegisterError::UserLimit { .. } => ("USER_CONNECTION_LIMIT", StatusCode::TOO_MANY_REQUESTS),
            RegisterError::TenantLimit { max } => {
                let quota = QuotaExceeded { quota: "max_connections", limit: max as u64, retry_after: None };
                return ApiError::Tenant(quota.into());
            }
        };
        ApiError::TooManyConnections { code, message: e.to_string(), status }
    }
}

impl From<ConnectError> for ApiError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::ShuttingDown => ApiError::TooManyConnections {
                code: "SHUTTING_DOWN",
                message: e.to_string(),
                status: StatusCode::SERVICE_UNAVAILABLE,
            },
            ConnectError::Auth(e) => ApiError::Unauthorized(e),
            ConnectError::Register(e) => e.into(),
            ConnectError::Subscribe(e) => e.into(),
            ConnectError::Tenant(e) => ApiError::Tenant(e),
        }
    }
}

impl From<SubscribeError> for ApiError {
    fn from(e: SubscribeError) -> Self {
        ApiError::BadRequest { code: e.code(), message: e.to_string() }
    }
}

impl From<SendError> for ApiError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::QueueUnavailable { report, failed, source } => {
                tracing::error!(error = %crate::domain::ErrorChain(&source), failed, "send could not queue for offline users");
                ApiError::QueueUnavailable { report, failed }
            }
        }
    }
}

impl From<TemplateStoreError> for ApiError {
    fn from(e: TemplateStoreError) -> Self {
        match e {
            TemplateStoreError::Duplicate(_) => ApiError::Conflict { code: "TEMPLATE_EXISTS", message: e.to_string() },
            TemplateStoreError::NotFound(_) => ApiError::Missing { code: "TEMPLATE_NOT_FOUND", message: e.to_string() },
            TemplateStoreError::Unavailable(source) => {
                tracing::error!(error = %crate::domain::ErrorChain(&*source), "template store unavailable");
                ApiError::Unavailable {
                    code: "TEMPLATE_STORE_UNAVAILABLE",
                    message: "the template store is unavailable; retry later".into(),
                }
            }
            TemplateStoreError::Corrupt(source) | TemplateStoreError::Unexpected(source) => ApiError::Internal(source),
        }
    }
}

impl From<ResolveError> for ApiError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::InvalidContent(message) => {
                ApiError::BadRequest { code: "INVALID_REQUEST", message: message.into() }
            }
            ResolveError::TemplateNotFound(_) => {
                ApiError::Missing { code: "TEMPLATE_NOT_FOUND", message: e.to_string() }
            }
            ResolveError::MissingVariables(_) => {
                ApiError::BadRequest { code: "MISSING_VARIABLES", message: e.to_string() }
            }
            ResolveError::Validation(v) => ApiError::Validation(v),
            ResolveError::Store(store) => store.into(),
            ResolveError::Tenant(e) => ApiError::Tenant(e),
        }
    }
}

impl From<TenantRefusal> for ApiError {
    fn from(e: TenantRefusal) -> Self {
        ApiError::Tenant(e)
    }
}

impl From<TenantManagerError> for ApiError {
    fn from(e: TenantManagerError) -> Self {
        match e {
            TenantManagerError::NotFound(id) => ApiError::Tenant(TenantRefusal::NotFound(id)),
            TenantManagerError::KeyNotFound { .. } => {
                ApiError::Missing { code: "KEY_NOT_FOUND", message: e.to_string() }
            }
            TenantManagerError::Invalid(message) => ApiError::BadRequest { code: "VALIDATION_ERROR", message },
            TenantManagerError::Conflict(message) => ApiError::Conflict { code: "TENANT_CONFLICT", message },
            TenantManagerError::HasConnections { .. } => {
                ApiError::Conflict { code: "TENANT_HAS_CONNECTIONS", message: e.to_string() }
            }
            TenantManagerError::Store(crate::ports::TenantStoreError::Unavailable(source)) => {
                tracing::error!(error = %crate::domain::ErrorChain(&*source), "tenant store unavailable");
                ApiError::Unavailable {
                    code: "TENANT_STORE_UNAVAILABLE",
                    message: "the tenant store is unavailable; retry later".into(),
                }
            }
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(source) = &self {
            // Internals go to the log, never to the client.
            tracing::error!(error = %crate::domain::ErrorChain(&**source), "internal error while handling request");
        }
        let details = match &self {
            ApiError::QueueUnavailable { report, failed } => Some(PartialSend {
                notification_id: report.notification_id,
                delivered_to: report.delivered_to,
                offline_users: report.offline_users,
                queued: report.queued,
                not_queued: *failed,
            }),
            _ => None,
        };
        let quota = match &self {
            ApiError::Tenant(TenantRefusal::Quota(q)) => Some(q.clone()),
            _ => None,
        };
        // Whole seconds, rounded up: a client that waits that long finds room.
        let retry_after =
            quota.as_ref().and_then(|q| q.retry_after).map(|d| d.as_millis().div_ceil(1000).max(1) as u64);
        let body = Body {
            error: Detail {
                code: self.code(),
                message: self.to_string(),
                details,
                quota: quota.as_ref().map(|q| q.quota),
                limit: quota.as_ref().map(|q| q.limit),
                retry_after_seconds: retry_after,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body may still be on its way; the connection cannot carry another request.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

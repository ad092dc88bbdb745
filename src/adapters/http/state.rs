//! What the HTTP API's handlers share: the service, the API key, body limits, the rate-limit policy,
//! the diagnostics list and what it reports to. Nothing in here is a concrete adapter of another
//! family: those come in behind ports, registered by the app.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::live::LiveHttp;
use super::rate_limit::RateLimitPolicy;
use crate::ports::{DynDiagnostic, DynTransportMetrics};
use crate::service::NotificationService;

/// axum clones the state for each handler and middleware on every request, so it is one `Arc` (a
/// single reference-count bump) rather than a struct of many.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub service: Arc<NotificationService>,
    /// The API key and allowed origins in force (they change on reload).
    pub live: Arc<LiveHttp>,
    /// `ADMIN_API_KEY`: acts in any tenant (`X-Tenant-Id`) and manages tenants.
    pub admin_key: Option<Arc<str>>,
    /// The Tenant API's use cases; `None` unless `TENANT_ENABLED`.
    pub tenants: Option<Arc<crate::service::tenants::TenantManager>>,
    pub body_limit_bytes: usize,
    /// How long an API request's body may take to arrive (`SERVER_REQUEST_TIMEOUT_SECONDS`).
    pub request_body_timeout: Duration,
    pub started_at: Instant,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
    /// `None` when `RATELIMIT_ENABLED=false`.
    pub rate_limit: Option<Arc<RateLimitPolicy>>,
    /// Every dependency in use, for `/health` and `/stats`.
    pub diagnostics: Arc<[DynDiagnostic]>,
    pub metrics: DynTransportMetrics,
    /// `SERVER_TLS_CLIENT_CA` is set: API requests need a client certificate.
    pub client_certificates_required: bool,
}

//! What every handler shares.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::dependencies::RedisHandles;
use super::rate_limit::RateLimitPolicy;
use crate::adapters::auth::JwtAuth;
use crate::adapters::metrics::Metrics;
use crate::service::{ConnectionRegistry, NotificationService, TemplateResolver};

/// WebSocket tuning, from the `WEBSOCKET_*` settings.
#[derive(Debug, Clone, Copy)]
pub struct WsConfig {
    pub heartbeat_interval: Duration,
    pub idle_timeout: Duration,
    pub outbound_queue_size: usize,
    pub max_message_bytes: usize,
    pub slow_consumer_policy: crate::adapters::connection::SlowConsumerPolicy,
    /// How long one write to a client's socket may take before the client counts as a slow consumer.
    pub write_timeout: Duration,
}

/// Shared by every handler and middleware. axum clones the state for each of them on every request, so
/// it is one `Arc` (a single reference-count bump) rather than a struct of many.
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
    pub notifier: Arc<NotificationService>,
    /// Template CRUD, and the resolver every send's content goes through.
    pub templates: Arc<TemplateResolver>,
    pub registry: Arc<ConnectionRegistry>,
    pub jwt: Arc<JwtAuth>,
    pub api_key: Option<Arc<str>>,
    pub ws: WsConfig,
    pub body_limit_bytes: usize,
    /// How long an API request's body may take to arrive (`SERVER_REQUEST_TIMEOUT_SECONDS`).
    pub request_body_timeout: Duration,
    pub started_at: Instant,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
    /// Connection tasks, awaited at shutdown.
    pub tasks: TaskTracker,
    /// `None` when `RATELIMIT_ENABLED=false`.
    pub rate_limit: Option<Arc<RateLimitPolicy>>,
    /// The shared Redis connection and the Pub/Sub trigger, for `/health` and `/stats`.
    pub redis: RedisHandles,
    pub metrics: Arc<Metrics>,
    /// The dashboard (`/admin`); `None` when `ADMIN_API_KEY` is unset.
    pub admin: Option<Arc<crate::adapters::admin::AdminConsole>>,
}

//! Builds the service from settings (pick adapters, wire, bind) and runs it until it is told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::Settings;
use super::resilience::{self, Resilience};
use super::stores::{self, StoreError};
use crate::adapters::auth::{JwtAuth, JwtSettings};
use crate::adapters::http::client_ip::parse_trusted_proxies;
use crate::adapters::http::{router, serve, AppState, ServeConfig, Shared, Timeouts, WsConfig};
use crate::adapters::metrics::Metrics;
use crate::adapters::runtime::TokioTimer;
use crate::ports::{CloseReason, SystemClock};
use crate::service::{
    AckConfig, ConnectionRegistry, DeliveryStats, Dispatcher, Limits, NotificationService, OfflineQueueConfig,
    TemplateResolver,
};

#[derive(Debug, Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot register metrics: {0}")]
    Metrics(#[source] prometheus::Error),
    #[error("cannot listen on {addr} (SERVER_HOST/SERVER_PORT): {source}")]
    Bind { addr: String, source: std::io::Error },
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    router: axum::Router,
    serve: ServeConfig,
    shutdown_timeout: Duration,
    cleanup_interval: Duration,
    queue_cleanup_interval: Duration,
    ack_cleanup_interval: Duration,
    resilience: Resilience,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        warn_about_development_defaults(&settings);
        let ws = &settings.websocket;
        let registry = Arc::new(ConnectionRegistry::new(Limits {
            max_connections: ws.max_connections,
            max_connections_per_user: ws.max_connections_per_user,
            max_subscriptions_per_connection: ws.max_subscriptions_per_connection,
        }));
        let dispatcher = Arc::new(Dispatcher::new(registry.clone(), Arc::new(DeliveryStats::default())));
        let redis = resilience::shared_redis(&settings).await?;
        let stores = stores::open(&settings, redis.as_ref()).await?;
        let mut notifier = NotificationService::new(dispatcher, Arc::new(SystemClock), Arc::new(TokioTimer));
        if let Some((queue, policy)) = stores.queue {
            notifier =
                notifier.with_offline_queue(OfflineQueueConfig { store: queue.store, policy, timeout: queue.timeout });
        }
        if let Some(acks) = stores.acks {
            notifier = notifier.with_acks(AckConfig {
                store: acks.store,
                timeout_seconds: settings.ack.timeout_seconds,
                redeliver: settings.ack.redeliver,
                store_timeout: acks.timeout,
            });
        }
        let notifier = Arc::new(notifier);
        let templates = Arc::new(TemplateResolver::new(stores.templates, Arc::new(SystemClock)));
        let resilience = resilience::open(&settings, redis).await?;
        let jwt = JwtAuth::new(JwtSettings {
            secret: settings.jwt_secret().to_owned(),
            issuer: settings.jwt.issuer.clone(),
            audience: settings.jwt.audience.clone(),
        });
        let state = AppState::new(Shared {
            notifier,
            templates,
            registry,
            jwt: Arc::new(jwt),
            api_key: settings.api_key().map(Arc::from),
            ws: WsConfig {
                heartbeat_interval: Duration::from_secs(ws.heartbeat_interval_seconds),
                idle_timeout: Duration::from_secs(ws.connection_timeout_seconds),
                outbound_queue_size: ws.outbound_queue_size,
                max_message_bytes: ws.max_message_bytes,
                slow_consumer_policy: ws.slow_consumer_policy,
                write_timeout: Duration::from_secs(ws.write_timeout_seconds.max(1)),
            },
            body_limit_bytes: settings.server.body_limit_bytes,
            request_body_timeout: Duration::from_secs(settings.server.request_timeout_seconds),
            started_at: Instant::now(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            rate_limit: resilience.rate_limit.clone(),
            redis: resilience.redis.clone(),
            metrics: Arc::new(Metrics::new().map_err(StartupError::Metrics)?),
            admin: settings.admin.api_key().map(|key| {
                Arc::new(crate::adapters::admin::AdminConsole::new(
                    key,
                    Duration::from_secs(settings.admin.session_ttl_seconds),
                ))
            }),
        });
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&addr).await.map_err(|source| StartupError::Bind { addr, source })?;
        let router = router(state.clone(), settings.cors.origin_list());
        let serve = ServeConfig {
            timeouts: Timeouts {
                header_read: Duration::from_secs(settings.server.header_read_timeout_seconds),
                idle: Duration::from_secs(settings.server.idle_timeout_seconds),
            },
            max_connections_per_ip: settings.server.max_connections_per_ip,
            // Already validated with the other settings.
            uncapped: settings
                .trusted_proxies
                .as_deref()
                .map(parse_trusted_proxies)
                .and_then(Result::ok)
                .unwrap_or_default(),
        };
        Ok(Self {
            listener,
            state,
            router,
            serve,
            shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_seconds),
            cleanup_interval: Duration::from_secs(ws.cleanup_interval_seconds),
            queue_cleanup_interval: Duration::from_secs(settings.queue.cleanup_interval_seconds),
            ack_cleanup_interval: Duration::from_secs(settings.ack.cleanup_interval_seconds),
            resilience,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Cancelling this token shuts the server down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.state.shutdown.clone()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the shutdown token is cancelled, then closes every connection with 1001 and
    /// waits (bounded by `SERVER_SHUTDOWN_TIMEOUT_SECONDS`) for connection tasks to end.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            listener,
            state,
            router,
            serve: serve_config,
            shutdown_timeout,
            cleanup_interval,
            queue_cleanup_interval,
            ack_cleanup_interval,
            resilience,
        } = self;
        let resilience_tasks = resilience.spawn(&state);
        let idle_timeout_ms = state.ws.idle_timeout.as_millis() as i64;
        let background = [
            // Closes connections silent past the idle timeout, in case their own heartbeat missed it.
            spawn_periodic(&state, cleanup_interval, move |notifier| async move {
                let closed = notifier.dispatcher().registry().close_idle(chrono::Utc::now(), idle_timeout_ms);
                if closed > 0 {
                    tracing::info!(closed, "closed idle connections");
                }
            }),
            spawn_periodic(&state, queue_cleanup_interval, |notifier| async move {
                match notifier.purge_expired_queue().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "purged expired offline queue entries"),
                    Err(e) => tracing::warn!(error = %e, "offline queue cleanup failed"),
                }
            }),
            spawn_periodic(&state, ack_cleanup_interval, |notifier| async move {
                match notifier.expire_acks().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(expired = n, "expired unacknowledged notifications"),
                    Err(e) => tracing::warn!(error = %e, "ACK expiry failed"),
                }
            }),
        ];
        let token = state.shutdown.clone();
        let registry = state.registry.clone();
        let on_shutdown = async move {
            token.cancelled().await;
            registry.close_all(CloseReason::Shutdown);
        };
        let served = serve(listener, router, serve_config, state.metrics.clone(), on_shutdown);
        let result = tokio::select! {
            () = served => Ok(()),
            // HTTP keep-alive connections may outlive the grace period; they do not hold shutdown.
            _ = async { state.shutdown.cancelled().await; tokio::time::sleep(shutdown_timeout).await } => Ok(()),
        };
        state.tasks.close();
        if tokio::time::timeout(shutdown_timeout, state.tasks.wait()).await.is_err() {
            tracing::warn!("some connections did not close within the shutdown timeout");
        }
        for task in background.into_iter().chain(resilience_tasks) {
            task.abort();
        }
        tracing::info!("server stopped");
        result
    }
}

/// Runs `job` every `every` until shutdown.
fn spawn_periodic<F, Fut>(state: &AppState, every: Duration, job: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(Arc<NotificationService>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let notifier = state.notifier.clone();
    let token = state.shutdown.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tick.tick() => job(notifier.clone()).await,
            }
        }
    })
}

fn warn_about_development_defaults(settings: &Settings) {
    if settings.is_production() {
        return;
    }
    if settings.jwt.secret.is_none() {
        tracing::warn!(
            "DEVELOPMENT MODE: JWT_SECRET is not set, using the built-in development secret; never expose this server"
        );
    }
    if settings.api_key().is_none() {
        tracing::warn!("DEVELOPMENT MODE: API_KEY is not set, the HTTP API accepts requests from anyone");
    }
    if settings.cors.origin_list().is_none() {
        tracing::warn!("CORS allows any origin; set CORS_ORIGINS to restrict it");
    }
}

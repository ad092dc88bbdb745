//! Builds the service from settings (pick adapters, wire, bind) and runs it until it is told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::Settings;
use super::diagnostics::{self, AckDiagnostic, QueueDiagnostic, TemplateDiagnostic};
use super::policies::{ReloadablePolicies, StaticPolicies};
use super::reload::{Reloadables, Reloader};
use super::resilience::{self, Resilience};
use super::stores::{self, StoreError};
use crate::adapters::http::client_ip::parse_trusted_proxies;
use crate::adapters::http::{
    self, origin_check, rate_limit, serve, AppState, LiveHttp, OriginRule, ServeConfig, Shared, Timeouts, TlsAcceptor,
    TlsError,
};
use crate::adapters::metrics::{self, Metrics, MetricsState};
use crate::adapters::runtime::TokioTimer;
use crate::adapters::{admin, sse, ws};
use crate::domain::{ErrorChain, TenantId};
use crate::ports::{DynDiagnostic, DynPolicySource, SystemClock};
use crate::service::tenants::TenantManager;
use crate::service::{AckConfig, NotificationService, QueueConfig, ServiceParts, TemplateResolver};

#[derive(Debug, Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
    #[error("cannot join the cluster (CLUSTER_NODE_ID, CLUSTER_REDIS_URL)")]
    Cluster(#[source] crate::ports::PresenceError),
    #[error("cannot register metrics")]
    Metrics(#[source] prometheus::Error),
    #[error("TENANT_ENABLED: cannot load the tenants")]
    Tenants(#[source] crate::service::tenants::TenantManagerError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot set up reloading of the settings (SIGHUP, config file watch)")]
    Reload(#[source] std::io::Error),
    #[error("cannot listen on {addr} (SERVER_HOST/SERVER_PORT)")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

pub struct Application {
    listener: TcpListener,
    service: Arc<NotificationService>,
    /// Cancelled when the server begins to shut down.
    shutdown: CancellationToken,
    /// WebSocket connection tasks, awaited at shutdown.
    tasks: TaskTracker,
    metrics: Arc<Metrics>,
    router: axum::Router,
    serve: ServeConfig,
    shutdown_timeout: Duration,
    cleanup_interval: Duration,
    queue_cleanup_interval: Duration,
    ack_cleanup_interval: Duration,
    revocation_sync_interval: Duration,
    resilience: Resilience,
    /// The tenant tasks' wiring and the manager they refresh, when tenants are managed.
    tenancy: Option<(super::tenancy::Tenancy, Arc<TenantManager>)>,
    /// Reloads the TLS listener's certificate when its files change.
    tls_watch: Option<tokio::task::JoinHandle<()>>,
    /// Applies new settings on SIGHUP or a change of the config file.
    reload_task: Option<tokio::task::JoinHandle<()>>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        warn_about_development_defaults(&settings);
        for warning in &settings.warnings {
            tracing::warn!("{warning}");
        }
        let metrics =
            Arc::new(Metrics::with_tenant_label(settings.tenant.metrics_label).map_err(StartupError::Metrics)?);
        let reloadable = Arc::new(ReloadablePolicies::new(StaticPolicies::from_settings(&settings)));
        let redis = resilience::shared_redis(&settings).await?;
        let stores = stores::open(&settings, redis.as_ref()).await?;
        // Tenants' own limits over the settings' (which a reload replaces).
        let tenancy =
            settings.tenant.enabled.then(|| super::tenancy::prepare(&settings, reloadable.clone(), redis.as_ref()));
        let policies: DynPolicySource = match &tenancy {
            Some(t) => t.policies.clone(),
            None => reloadable.clone(),
        };
        let mut templates = TemplateResolver::new(stores.templates.clone(), Arc::new(SystemClock));
        if tenancy.is_some() {
            templates = templates.per_tenant();
        }
        let verifier = super::auth::verifier(&settings)?;
        for jwks in verifier.preload().await {
            tracing::warn!(%jwks, "the JWKS could not be loaded; tokens signed with its keys are refused until it is");
        }
        let mut service = NotificationService::new(ServiceParts {
            clock: Arc::new(SystemClock),
            timer: Arc::new(TokioTimer),
            policies: policies.clone(),
            templates: Arc::new(templates),
            verifier: match &tenancy {
                // Each managed tenant's tokens are verified with its own keys (the server's for
                // tenants without any).
                Some(t) => Arc::new(crate::adapters::auth::TenantTokenVerifier::new(
                    Arc::new(verifier),
                    t.cache.clone(),
                    super::auth::claim_rules(&settings),
                )),
                None => Arc::new(verifier),
            },
        })
        .with_observer(metrics.clone())
        .with_token_policy(super::auth::token_policy(&settings))
        .with_revocations(super::auth::revocations(&settings, redis.as_ref()))
        .with_private_channels(crate::domain::PrivateChannels { prefix: settings.channel.private_prefix.clone() })
        .with_audit(super::auth::audit_log(&settings).await?);
        if let Some(t) = &tenancy {
            service = service.with_tenants(crate::service::tenants::TenantRules {
                directory: t.rules.directory.clone(),
                limiter: t.rules.limiter.clone(),
            });
        }
        let mut store_diagnostics: Vec<DynDiagnostic> = Vec::new();
        if let Some(queue) = stores.queue {
            store_diagnostics.push(Arc::new(QueueDiagnostic(queue.store.clone())));
            service = service.with_offline_queue(QueueConfig { store: queue.store, timeout: queue.timeout });
        }
        if let Some(acks) = stores.acks {
            store_diagnostics.push(Arc::new(AckDiagnostic(acks.store.clone())));
            service = service.with_acks(AckConfig {
                store: acks.store,
                timeout_seconds: settings.ack.timeout_seconds,
                redeliver: settings.ack.redeliver,
                store_timeout: acks.timeout,
            });
        }
        store_diagnostics.push(Arc::new(TemplateDiagnostic(stores.templates)));
        if let Some(cluster) = super::cluster::config(&settings, redis.as_ref()).await? {
            service = service.with_cluster(cluster);
        }
        let service = Arc::new(service);
        service.join_cluster().await.map_err(StartupError::Cluster)?;
        if service.cluster_enabled() {
            store_diagnostics.push(Arc::new(super::cluster::ClusterDiagnostic(service.clone())));
        }
        // Revocations made before this node started cover no connection of it.
        if let Err(e) = service.skip_old_revocations().await {
            tracing::warn!(error = %ErrorChain(&e), "could not read the revocation log; it is read from its start");
        }
        let tenancy = match (tenancy, stores.tenants) {
            (Some(t), Some(store)) => {
                let rules = super::auth::claim_rules(&settings);
                let check: crate::service::tenants::KeyCheck = Box::new(move |tenant, keys| {
                    // No keys of its own: the server's verify the tenant's tokens.
                    if keys.is_empty() {
                        return Ok(());
                    }
                    crate::adapters::auth::tenant_verifier(tenant, keys, &rules).map(|_| ())
                });
                let manager = TenantManager::new(store, t.cache.clone(), service.clone(), Arc::new(SystemClock))
                    .with_key_check(check)
                    .with_configured_ids(
                        settings.tenant.overrides.keys().filter_map(|id| TenantId::parse(id).ok()).collect(),
                    );
                let manager = Arc::new(manager);
                manager.start().await.map_err(StartupError::Tenants)?;
                Some((t, manager))
            }
            _ => None,
        };
        let resilience = resilience::open(&settings, redis, policies, metrics.clone()).await?;
        let diagnostics = diagnostics::list(store_diagnostics.into_iter().chain(resilience.diagnostics()).map(Some));
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let tls = settings.server_tls().map(TlsAcceptor::load).transpose()?;
        let tls_watch = tls.as_ref().map(|tls| tls.watch(shutdown.clone())).transpose()?;
        let live =
            LiveHttp::new(settings.api_key().map(str::to_owned), OriginRule::from_list(settings.cors.origin_list()));
        let tenant_limits = tenancy.as_ref().map(|(t, _)| t.configured.clone());
        let reloader = Reloader::new(
            &settings,
            Reloadables {
                policies: reloadable,
                http: live.clone(),
                tenant_limits,
                tls: tls.clone(),
                audit: Some(service.clone()),
            },
        );
        let reload_task = reloader.spawn(shutdown.clone()).map_err(StartupError::Reload)?;
        let api = AppState::new(Shared {
            service: service.clone(),
            live: live.clone(),
            admin_key: settings.admin.api_key().map(Arc::from),
            tenants: tenancy.as_ref().map(|(_, manager)| manager.clone()),
            body_limit_bytes: settings.server.body_limit_bytes,
            request_body_timeout: Duration::from_secs(settings.server.request_timeout_seconds),
            started_at: Instant::now(),
            shutdown: shutdown.clone(),
            rate_limit: resilience.rate_limit.clone(),
            diagnostics: diagnostics.clone(),
            metrics: metrics.clone(),
            client_certificates_required: tls.as_ref().is_some_and(|tls| tls.requires_client_certificates()),
        });
        let mut ws_routes = ws::router(ws::WsState::new(ws::WsShared {
            service: service.clone(),
            metrics: metrics.clone(),
            tasks: tasks.clone(),
        }));
        let mut sse_routes = sse::router(sse::SseState { service: service.clone(), metrics: metrics.clone() });
        // Browsers enforce no CORS on a WebSocket: the handshake's Origin is checked here.
        let origins = || axum::middleware::from_fn_with_state(live.clone(), origin_check::check_handshake_origin);
        ws_routes = ws_routes.route_layer(origins());
        sse_routes = sse_routes.route_layer(origins());
        if let Some(policy) = &resilience.rate_limit {
            // New connections are limited per client address, before authentication.
            let per_ip = || axum::middleware::from_fn_with_state(policy.clone(), rate_limit::limit_connections);
            ws_routes = ws_routes.route_layer(per_ip());
            sse_routes = sse_routes.route_layer(per_ip());
        }
        let metrics_routes =
            metrics::router(MetricsState { metrics: metrics.clone(), service: service.clone(), diagnostics });
        let admin_state = admin::AdminState::new(admin::AdminShared {
            console: settings.admin.api_key().map(|key| {
                Arc::new(admin::AdminConsole::new(key, Duration::from_secs(settings.admin.session_ttl_seconds)))
            }),
            api: api.clone(),
        });
        let routes = http::router(api, super::spec::openapi())
            .merge(ws_routes)
            .merge(sse_routes)
            .merge(metrics_routes)
            .merge(admin::router(admin_state.clone()));
        let routes = http::fallbacks(routes)
            .layer(axum::middleware::from_fn_with_state(admin_state, admin::session_as_api_key))
            .layer(axum::middleware::from_fn_with_state(metrics.clone(), metrics::record_http));
        let router = http::edge(routes, live);
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&addr).await.map_err(|source| StartupError::Bind { addr, source })?;
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
            tls,
        };
        Ok(Self {
            listener,
            service,
            shutdown,
            tasks,
            metrics,
            router,
            serve,
            shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_seconds),
            cleanup_interval: Duration::from_secs(settings.websocket.cleanup_interval_seconds),
            queue_cleanup_interval: Duration::from_secs(settings.queue.cleanup_interval_seconds),
            ack_cleanup_interval: Duration::from_secs(settings.ack.cleanup_interval_seconds),
            revocation_sync_interval: Duration::from_millis(settings.revocation.sync_interval_ms),
            resilience,
            tenancy,
            tls_watch,
            reload_task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Cancelling this token shuts the server down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then closes every connection with 1001 and
    /// waits (bounded by `SERVER_SHUTDOWN_TIMEOUT_SECONDS`) for connection tasks to end.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            listener,
            service,
            shutdown,
            tasks,
            metrics,
            router,
            serve: serve_config,
            shutdown_timeout,
            cleanup_interval,
            queue_cleanup_interval,
            ack_cleanup_interval,
            revocation_sync_interval,
            resilience,
            tenancy,
            tls_watch,
            reload_task,
        } = self;
        let mut resilience_tasks = resilience.spawn(&service, &shutdown);
        if let Some((tenancy, manager)) = &tenancy {
            resilience_tasks.extend(tenancy.spawn(manager.clone(), &shutdown));
        }
        if service.cluster_enabled() {
            resilience_tasks.push(tokio::spawn(service.clone().run_cluster()));
        }
        let background = [
            // Closes connections silent past the idle timeout, in case their own heartbeat missed it.
            spawn_periodic(&service, &shutdown, cleanup_interval, |service| async move {
                let closed = service.close_idle(chrono::Utc::now());
                if closed > 0 {
                    tracing::info!(closed, "closed idle connections");
                }
            }),
            // Closes this node's connections that a revocation made on another node covers.
            spawn_periodic(&service, &shutdown, revocation_sync_interval, |service| async move {
                match service.apply_revocations().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(closed = n, "closed connections whose token was revoked elsewhere"),
                    Err(e) => tracing::warn!(error = %ErrorChain(&e), "could not read revocations"),
                }
            }),
            spawn_periodic(&service, &shutdown, queue_cleanup_interval, |service| async move {
                match service.purge_expired_queue().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "purged expired offline queue entries"),
                    Err(e) => tracing::warn!(error = %ErrorChain(&e), "offline queue cleanup failed"),
                }
            }),
            spawn_periodic(&service, &shutdown, ack_cleanup_interval, |service| async move {
                match service.expire_acks().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(expired = n, "expired unacknowledged notifications"),
                    Err(e) => tracing::warn!(error = %ErrorChain(&e), "ACK expiry failed"),
                }
            }),
        ];
        let token = shutdown.clone();
        let closing = service.clone();
        let on_shutdown = async move {
            token.cancelled().await;
            closing.begin_shutdown();
        };
        let served = serve(listener, router, serve_config, metrics, on_shutdown);
        let result = tokio::select! {
            () = served => Ok(()),
            // HTTP keep-alive connections may outlive the grace period; they do not hold shutdown.
            _ = async { shutdown.cancelled().await; tokio::time::sleep(shutdown_timeout).await } => Ok(()),
        };
        tasks.close();
        if tokio::time::timeout(shutdown_timeout, tasks.wait()).await.is_err() {
            tracing::warn!("some connections did not close within the shutdown timeout");
        }
        for task in background.into_iter().chain(resilience_tasks).chain(tls_watch).chain(reload_task) {
            task.abort();
        }
        service.leave_cluster().await;
        tracing::info!("server stopped");
        result
    }
}

/// Runs `job` every `every` until shutdown.
fn spawn_periodic<F, Fut>(
    service: &Arc<NotificationService>,
    shutdown: &CancellationToken,
    every: Duration,
    job: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(Arc<NotificationService>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let notifier = service.clone();
    let token = shutdown.clone();
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
    if settings.jwt.secret.is_none() && !settings.jwt.has_key_set() {
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

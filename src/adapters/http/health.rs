//! `GET /health`, `GET /stats` and `GET /api/v1/stats/acks`, assembled from the service and the
//! diagnostics the app registered.
//!
//! `/health` must answer promptly whatever is down (load balancers and orchestrators time it out), so
//! every dependency is asked at once and given at most [`PROBE_TIMEOUT`]; one that has not answered
//! by then counts as down. None of them stops Ara delivering to local connections, so none of them
//! turns `/health` into a 503: they make the overall status `degraded`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};

use super::caller::{Acting, CallerKind};
use super::error::ApiError;
use super::state::AppState;
use crate::delivery::DeliverySnapshot;
use crate::domain::ack::AckStats;
use crate::domain::ErrorChain;
use crate::ports::{Report, Status};

/// How long one dependency may take to answer `/health`; well under the one second it answers in.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(750);

/// Liveness and the state of each dependency.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `healthy`, `degraded` (a dependency is down but Ara still delivers locally) or `shutting_down`.
    #[schema(example = "healthy")]
    status: &'static str,
    version: &'static str,
    uptime_seconds: u64,
    /// 1 for the settings Ara started with, one more for each reload applied (SIGHUP or a change of
    /// the config file); a reload that was refused leaves it as it was.
    config_generation: u64,
    /// Per dependency in use (`offline_queue`, `ack_store`, `template_store`, `redis`, `pubsub`,
    /// `rate_limiter`): `healthy`, `degraded` or `down`, alone or with details such as the Redis
    /// breaker state (`{"status":"down","breaker":"open"}`).
    #[schema(value_type = Object)]
    dependencies: Map<String, Value>,
}

/// Every dependency's report, each within [`PROBE_TIMEOUT`], asked all at once.
async fn reports(state: &AppState) -> Vec<(&'static str, bool, Report)> {
    let probes = state.diagnostics.iter().map(|d| async move {
        let report = tokio::time::timeout(PROBE_TIMEOUT, d.health()).await.unwrap_or(Report::status(Status::Down));
        (d.name(), d.required(), report)
    });
    futures_util::future::join_all(probes).await
}

/// The process answers: for a liveness probe, which must not fail because a dependency is away.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Liveness {
    #[schema(example = "alive")]
    status: &'static str,
    version: &'static str,
    uptime_seconds: u64,
}

/// Whether this node can deliver now, and what it checked.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready`, `not_ready` (a dependency delivery needs is down) or `shutting_down`.
    #[schema(example = "ready")]
    status: &'static str,
    /// Each dependency delivery needs, with its status (`healthy`, `degraded`, `down`).
    #[schema(value_type = Object)]
    checks: Map<String, Value>,
}

/// Liveness: 200 as long as the process answers (a Kubernetes `livenessProbe`).
#[utoipa::path(get, path = "/health/live", tag = "operations",
    responses((status = 200, description = "The process answers", body = Liveness)))]
pub async fn live(State(state): State<AppState>) -> Json<Liveness> {
    Json(Liveness {
        status: "alive",
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started_at.elapsed().as_secs(),
    })
}

/// Readiness: 200 while this node can deliver — every store it uses answers and, with the Pub/Sub
/// trigger on, its subscription is proven by a canary received back in time; 503 otherwise and while
/// shutting down (a Kubernetes `readinessProbe`).
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses((status = 200, description = "Ready to deliver", body = Readiness),
        (status = 503, description = "Not ready, or shutting down", body = Readiness)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let required: Vec<(&str, Report)> =
        reports(&state).await.into_iter().filter(|(_, required, _)| *required).map(|(n, _, r)| (n, r)).collect();
    let down = required.iter().any(|(_, r)| r.status == Status::Down);
    let (code, status) = if state.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting_down")
    } else if down {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    } else {
        (StatusCode::OK, "ready")
    };
    let checks = required.into_iter().map(|(name, r)| (name.to_owned(), r.to_json())).collect();
    (code, Json(Readiness { status, checks }))
}

/// 200 while Ara can deliver (a failing dependency degrades it), 503 while shutting down.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "Serving (status healthy or degraded)", body = Health),
        (status = 503, description = "Shutting down", body = Health)))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let reports = reports(&state).await;
    let degraded = reports.iter().any(|(_, _, r)| r.status != Status::Healthy);
    let (code, status) = if state.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting_down")
    } else if degraded {
        (StatusCode::OK, "degraded")
    } else {
        (StatusCode::OK, "healthy")
    };
    let body = Health {
        status,
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started_at.elapsed().as_secs(),
        config_generation: state.live.generation(),
        dependencies: reports.into_iter().map(|(name, _, r)| (name.to_owned(), r.to_json())).collect(),
    };
    (code, Json(body))
}

/// Counters of this node: its connections, the delivery core's totals, and one section per
/// dependency that keeps counters (`queue`, `acks`, `redis`, `pubsub`, `rate_limiter`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Stats {
    connections: usize,
    users: usize,
    channels: usize,
    #[serde(flatten)]
    delivery: DeliverySnapshot,
    #[serde(flatten)]
    #[schema(ignore)]
    dependencies: Map<String, Value>,
    uptime_seconds: u64,
}

/// This node's counters. A tenant key (or `ADMIN_API_KEY` with `X-Tenant-Id`) gets its tenant's view
/// instead, shaped as `GET /api/v1/tenants/{tenant_id}` (`TenantView`).
#[utoipa::path(get, path = "/stats", tag = "operations",
    responses((status = 200, body = Stats),
        (status = 503, description = "STORE_UNAVAILABLE", body = super::error::Body)))]
pub async fn stats(State(state): State<AppState>, acting: Acting) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    // A tenant key (or the admin key naming a tenant) sees its tenant, never the node's other tenants.
    let tenant_view = acting.0.kind == CallerKind::TenantKey || (acting.0.kind == CallerKind::Admin && acting.0.named);
    if let (true, Some(manager)) = (tenant_view, state.tenants.as_deref()) {
        let tenant = manager.get(acting.tenant())?;
        return Ok(Json(super::tenants::view(&state, manager, tenant).await).into_response());
    }
    let mut dependencies = Map::new();
    for diagnostic in state.diagnostics.iter() {
        match diagnostic.stats().await {
            Ok(Some(section)) => {
                dependencies.insert(diagnostic.stats_name().to_owned(), section);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %ErrorChain(&e), "/stats: a dependency could not be read");
                return Err(ApiError::Unavailable { code: "STORE_UNAVAILABLE", message: e.to_string() });
            }
        }
    }
    let counts = state.service.counts();
    Ok(Json(Stats {
        connections: counts.connections,
        users: counts.users,
        channels: counts.channels,
        delivery: state.service.delivery_stats(),
        dependencies,
        uptime_seconds: state.started_at.elapsed().as_secs(),
    })
    .into_response())
}

/// ACK tracking counts.
#[utoipa::path(get, path = "/api/v1/stats/acks", tag = "operations",
    responses((status = 200, body = AckStats),
        (status = 404, description = "FEATURE_DISABLED", body = super::error::Body),
        (status = 503, description = "STORE_UNAVAILABLE", body = super::error::Body)))]
pub async fn ack_stats(State(state): State<AppState>, acting: Acting) -> Result<Json<AckStats>, ApiError> {
    if acting.0.kind == CallerKind::TenantKey {
        return Err(ApiError::Forbidden {
            code: "NODE_WIDE_STATS",
            message: "ACK counts are node-wide, across tenants; a tenant key cannot read them".into(),
        });
    }
    let store = state
        .service
        .ack_store()
        .ok_or_else(|| ApiError::FeatureDisabled("ACK tracking is disabled (ACK_ENABLED=false)".into()))?;
    store.stats().await.map(Json).map_err(|e| {
        tracing::warn!(error = %ErrorChain(&e), "ACK store unavailable");
        ApiError::Unavailable { code: "STORE_UNAVAILABLE", message: "the ACK store is unavailable".into() }
    })
}

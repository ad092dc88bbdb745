//! `GET /health`, `GET /stats` and `GET /api/v1/stats/acks`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use super::dependencies::{self, probe, HealthEntries, StatsEntries};
use super::error::ApiError;
use super::state::AppState;
use crate::delivery::stats::DeliverySnapshot;
use crate::domain::ack::AckStats;
use crate::domain::queue::QueueStats;

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
    version: &'static str,
    uptime_seconds: u64,
    dependencies: Dependencies,
}

#[derive(Serialize)]
struct Dependencies {
    #[serde(skip_serializing_if = "Option::is_none")]
    offline_queue: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ack_store: Option<&'static str>,
    template_store: &'static str,
    /// Redis (with its breaker state), the Pub/Sub trigger and the rate limiter, when in use.
    #[serde(flatten)]
    resilience: HealthEntries,
}

/// 200 while Ara can deliver (a failing store degrades it), 503 while shutting down.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "Serving (status healthy or degraded)", body = super::openapi::HealthDoc),
        (status = 503, description = "Shutting down", body = super::openapi::HealthDoc)))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    // Every probe at once, each bounded: a hung dependency costs `PROBE_TIMEOUT`, not its own timeout
    // added to everyone else's.
    let (offline_queue, ack_store, template_store, resilience) = tokio::join!(
        async {
            match state.notifier.offline_queue() {
                Some(q) => Some(up_or_down(probe(q.check_health()).await)),
                None => None,
            }
        },
        async {
            match state.notifier.ack_store() {
                Some(a) => Some(up_or_down(probe(a.check_health()).await)),
                None => None,
            }
        },
        async { up_or_down(probe(state.templates.check_health()).await) },
        dependencies::health(&state),
    );
    let degraded =
        offline_queue == Some("down") || ack_store == Some("down") || template_store == "down" || resilience.degraded;
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
        dependencies: Dependencies { offline_queue, ack_store, template_store, resilience },
    };
    (code, Json(body))
}

fn up_or_down(healthy: bool) -> &'static str {
    if healthy {
        "healthy"
    } else {
        "down"
    }
}

#[derive(Serialize)]
pub struct Stats {
    connections: usize,
    users: usize,
    channels: usize,
    #[serde(flatten)]
    delivery: DeliverySnapshot,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue: Option<QueueStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acks: Option<AckStats>,
    /// Redis reconnects and breaker state, Pub/Sub counters, rate limiter rejections.
    #[serde(flatten)]
    resilience: StatsEntries,
    uptime_seconds: u64,
}

/// This node's counters.
#[utoipa::path(get, path = "/stats", tag = "operations",
    responses((status = 200, body = super::openapi::StatsDoc),
        (status = 503, description = "STORE_UNAVAILABLE", body = super::error::Body)))]
pub async fn stats(State(state): State<AppState>) -> Result<Json<Stats>, ApiError> {
    let queue = match state.notifier.offline_queue() {
        Some(q) => Some(q.stats().await.map_err(|e| store_down("offline queue", e))?),
        None => None,
    };
    let acks = match state.notifier.ack_store() {
        Some(a) => Some(a.stats().await.map_err(|e| store_down("ACK store", e))?),
        None => None,
    };
    Ok(Json(Stats {
        connections: state.registry.connection_count(),
        users: state.registry.user_count(),
        channels: state.registry.channel_count(),
        delivery: state.notifier.dispatcher().stats().snapshot(),
        queue,
        acks,
        resilience: dependencies::stats(&state),
        uptime_seconds: state.started_at.elapsed().as_secs(),
    }))
}

/// ACK tracking counts.
#[utoipa::path(get, path = "/api/v1/stats/acks", tag = "operations",
    responses((status = 200, body = super::openapi::AckStatsDoc),
        (status = 404, description = "FEATURE_DISABLED", body = super::error::Body),
        (status = 503, description = "STORE_UNAVAILABLE", body = super::error::Body)))]
pub async fn ack_stats(State(state): State<AppState>) -> Result<Json<AckStats>, ApiError> {
    let store = state
        .notifier
        .ack_store()
        .ok_or_else(|| ApiError::FeatureDisabled("ACK tracking is disabled (ACK_ENABLED=false)".into()))?;
    Ok(Json(store.stats().await.map_err(|e| store_down("ACK store", e))?))
}

fn store_down(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "{what} unavailable");
    ApiError::Unavailable { code: "STORE_UNAVAILABLE", message: format!("the {what} is unavailable") }
}

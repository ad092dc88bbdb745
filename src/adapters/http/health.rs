//! `GET /health` and `GET /stats`.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::state::AppState;
use crate::service::stats::DeliverySnapshot;

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
    version: &'static str,
    uptime_seconds: u64,
}

pub async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: if state.shutdown.is_cancelled() {
            "shutting_down"
        } else {
            "healthy"
        },
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started_at.elapsed().as_secs(),
    })
}

#[derive(Serialize)]
pub struct Stats {
    connections: usize,
    users: usize,
    channels: usize,
    #[serde(flatten)]
    delivery: DeliverySnapshot,
    uptime_seconds: u64,
}

pub async fn stats(State(state): State<AppState>) -> Json<Stats> {
    Json(Stats {
        connections: state.registry.connection_count(),
        users: state.registry.user_count(),
        channels: state.registry.channel_count(),
        delivery: state.notifier.dispatcher().stats().snapshot(),
        uptime_seconds: state.started_at.elapsed().as_secs(),
    })
}

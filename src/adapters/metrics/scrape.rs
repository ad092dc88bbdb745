//! `GET /metrics`: refreshes the gauges and counters that mirror the delivery core and the stores,
//! then renders the Prometheus text format.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use super::Metrics;
use crate::delivery::stats::TARGET_KINDS;
use crate::ports::{DynDiagnostic, Sample};
use crate::service::NotificationService;

/// What `GET /metrics` reads.
#[derive(Clone)]
pub struct MetricsState {
    pub metrics: Arc<Metrics>,
    pub service: Arc<NotificationService>,
    /// Every dependency in use; their samples fill the `redis_*` and `pubsub_*` families.
    pub diagnostics: Arc<[DynDiagnostic]>,
}

/// `GET /metrics`.
pub fn router(state: MetricsState) -> Router {
    Router::new().route("/metrics", get(metrics_handler)).with_state(state)
}

/// Values owned elsewhere (atomics, registry sizes, store counts), copied in at scrape time.
pub(super) struct SnapshotGauges {
    connections: IntGaugeVec,
    users: IntGauge,
    channels: IntGauge,
    subscriptions: IntGauge,
    totals: IntCounterVec,
    sent: IntCounterVec,
    queue_size: IntGauge,
    queue_users: IntGauge,
    ack_pending: IntGauge,
    /// Two concurrent scrapes must not both add the same difference to a mirrored counter.
    mirror_lock: parking_lot::Mutex<()>,
}

impl SnapshotGauges {
    pub(super) fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let connections =
            IntGaugeVec::new(Opts::new("connections", "Live client connections by transport."), &["transport"])?;
        registry.register(Box::new(connections.clone()))?;
        // One family for the monotonic totals kept by the delivery core, labelled by what they count.
        let totals = IntCounterVec::new(
            Opts::new(
                "delivery_events_total",
                "Delivery core events: delivered, queued, replayed, redelivered, failed, dropped, expired.",
            ),
            &["event"],
        )?;
        registry.register(Box::new(totals.clone()))?;
        let sent = IntCounterVec::new(
            Opts::new("notifications_sent_total", "Notifications accepted, by target type."),
            &["target"],
        )?;
        registry.register(Box::new(sent.clone()))?;
        Ok(Self {
            connections,
            users: gauge("users_connected", "Distinct users with at least one live connection.")?,
            channels: gauge("channels_active", "Channels with at least one subscriber.")?,
            subscriptions: gauge("subscriptions", "Channel subscriptions across all live connections.")?,
            totals,
            sent,
            queue_size: gauge("queue_messages", "Notifications waiting in offline queues.")?,
            queue_users: gauge("queue_users", "Users with a non-empty offline queue.")?,
            ack_pending: gauge("acks_pending", "Delivered notifications awaiting an ACK.")?,
            mirror_lock: parking_lot::Mutex::new(()),
        })
    }
}

/// Sets a counter that mirrors an external monotonic total.
fn mirror(counter: &prometheus::IntCounter, total: u64) {
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

/// Copies a dependency's sample into the family it names; one this adapter does not know is skipped.
fn apply(metrics: &Metrics, sample: &Sample) {
    let label = [sample.label.unwrap_or("")];
    let value = sample.value;
    match sample.metric {
        "redis_up" => metrics.redis_up.with_label_values(&label).set(value),
        "redis_circuit_breaker_state" => metrics.redis_breaker_state.with_label_values(&label).set(value),
        "redis_reconnects_total" => mirror(&metrics.redis_reconnects.with_label_values(&label), value.max(0) as u64),
        "pubsub_messages_total" => mirror(&metrics.pubsub_messages.with_label_values(&label), value.max(0) as u64),
        "pubsub_subscriptions_lost_total" => mirror(&metrics.pubsub_subscriptions_lost, value.max(0) as u64),
        other => tracing::debug!(metric = other, "a dependency reported a metric this adapter does not know"),
    }
}

async fn metrics_handler(State(state): State<MetricsState>) -> Response {
    let metrics = &state.metrics;
    let g = &metrics.snapshot;
    let counts = state.service.counts();
    g.connections.with_label_values(&["websocket"]).set(counts.websocket as i64);
    g.connections.with_label_values(&["sse"]).set(counts.sse as i64);
    g.users.set(counts.users as i64);
    g.channels.set(counts.channels as i64);
    g.subscriptions.set(counts.subscriptions as i64);
    let guard = g.mirror_lock.lock();
    let snap = state.service.delivery_stats();
    for (kind, total) in TARGET_KINDS.iter().zip(snap.sent_by_target) {
        mirror(&g.sent.with_label_values(&[kind]), total);
    }
    for (event, total) in [
        ("delivered", snap.notifications_delivered),
        ("queued", snap.notifications_queued),
        ("replayed", snap.notifications_replayed),
        ("redelivered", snap.notifications_redelivered),
        ("queue_failed", snap.queue_failures),
        ("queue_dropped", snap.queue_dropped),
        ("queue_expired", snap.queue_expired),
        ("slow_consumer_disconnected", snap.slow_consumers_disconnected),
        ("slow_consumer_dropped", snap.notifications_dropped),
        ("ack_tracked", snap.acks_tracked),
        ("ack_expired", snap.acks_expired),
    ] {
        mirror(&g.totals.with_label_values(&[event]), total);
    }
    for diagnostic in state.diagnostics.iter() {
        for sample in diagnostic.samples() {
            apply(metrics, &sample);
        }
    }
    if let Some(series) = &metrics.tenant_series {
        series.refresh(&state.service);
    }
    drop(guard);
    if let Some(queue) = state.service.offline_queue() {
        if let Ok(stats) = queue.stats().await {
            g.queue_size.set(stats.queued_messages as i64);
            g.queue_users.set(stats.users_with_queue as i64);
        }
    }
    if let Some(acks) = state.service.ack_store() {
        if let Ok(stats) = acks.stats().await {
            g.ack_pending.set(stats.pending as i64);
        }
    }
    match TextEncoder::new().encode_to_string(&metrics.registry.gather()) {
        Ok(body) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            let body = serde_json::json!({"error": {"code": "INTERNAL_ERROR", "message": "internal error"}});
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
        }
    }
}

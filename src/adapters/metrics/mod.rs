//! Prometheus metrics in the `ara_` namespace, served at `GET /metrics`.
//!
//! Counters the delivery core already keeps (atomics in `DeliveryStats`) are read at scrape time, so
//! the fan-out loop pays nothing for them. Histograms recorded per frame (delivery latency) are kept
//! per connection in a `LocalHistogram` and merged now and then, so recipients never contend on a
//! shared atomic.

mod http_layer;
mod latency;
mod ports;
mod runtime_tasks;
mod scrape;
mod tenant_series;

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

pub use http_layer::record_http;
pub use latency::LatencyRecorder;
pub use scrape::{router, MetricsState};

/// Latency buckets from 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
/// Connection lifetimes from a second to a day.
const DURATION_BUCKETS: &[f64] = &[1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0];

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub connections_opened: IntCounterVec,
    pub connections_closed: IntCounterVec,
    pub connection_duration: HistogramVec,
    pub ws_frames_received: IntCounterVec,
    pub delivery_latency: Histogram,
    pub ack_received: IntCounterVec,
    pub ack_latency: Histogram,
    pub batch_requests: IntCounter,
    pub batch_size: Histogram,
    pub ratelimit_decisions: IntCounterVec,
    pub redis_up: IntGaugeVec,
    pub redis_breaker_state: IntGaugeVec,
    pub redis_reconnects: IntCounterVec,
    pub pubsub_messages: IntCounterVec,
    pub pubsub_subscriptions_lost: IntCounter,
    pub tcp_connections_refused: IntCounterVec,
    pub http_connection_timeouts: IntCounterVec,
    // Read from the delivery core and the stores at scrape time.
    snapshot: scrape::SnapshotGauges,
    /// `Some` with `TENANT_METRICS_LABEL=true`.
    tenant_series: Option<tenant_series::TenantSeries>,
}

/// Every metric name and help text lives here, so the set is reviewable in one place.
impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        Self::with_tenant_label(false)
    }

    /// `tenant_label`: the connection counters carry a `tenant` label and per-tenant families exist.
    pub fn with_tenant_label(tenant_label: bool) -> Result<Self, prometheus::Error> {
        let by_transport: &[&str] = if tenant_label { &["transport", "tenant"] } else { &["transport"] };
        let registry = Registry::new_custom(Some("ara".into()), None)?;
        let counter_vec = |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| -> Result<IntGaugeVec, prometheus::Error> {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let histogram = |name: &str, help: &str, buckets: &[f64]| -> Result<Histogram, prometheus::Error> {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))?;
            registry.register(Box::new(h.clone()))?;
            Ok(h)
        };
        let histogram_vec =
            |name: &str, help: &str, labels: &[&str], buckets: &[f64]| -> Result<HistogramVec, prometheus::Error> {
                let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), labels)?;
                registry.register(Box::new(h.clone()))?;
                Ok(h)
            };
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        #[cfg(target_os = "linux")]
        registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
        registry.register(Box::new(runtime_tasks::AliveTasks::new()?))?;
        Ok(Self {
            http_requests: counter_vec(
                "http_requests_total",
                "HTTP requests by method, matched route template and status.",
                &["method", "route", "status"],
            )?,
            http_duration: histogram_vec(
                "http_request_duration_seconds",
                "HTTP request latency by method and matched route template.",
                &["method", "route"],
                LATENCY_BUCKETS,
            )?,
            connections_opened: counter_vec(
                "connections_opened_total",
                "Client connections opened, by transport.",
                by_transport,
            )?,
            connections_closed: counter_vec(
                "connections_closed_total",
                "Client connections closed, by transport.",
                by_transport,
            )?,
            connection_duration: histogram_vec(
                "connection_duration_seconds",
                "How long client connections lasted, by transport.",
                &["transport"],
                DURATION_BUCKETS,
            )?,
            ws_frames_received: counter_vec(
                "websocket_frames_received_total",
                "WebSocket frames received from clients, by frame type.",
                &["type"],
            )?,
            delivery_latency: histogram(
                "delivery_latency_seconds",
                "Time from a notification's acceptance to its write on a client socket.",
                LATENCY_BUCKETS,
            )?,
            ack_received: counter_vec("acks_received_total", "Client ACKs received, by outcome.", &["result"])?,
            ack_latency: histogram(
                "ack_latency_seconds",
                "Time from delivery to a successful client ACK.",
                &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
            )?,
            batch_size: histogram(
                "batch_size",
                "Notifications per batch request.",
                &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0],
            )?,
            batch_requests: counter("batch_requests_total", "Batch send requests.")?,
            ratelimit_decisions: counter_vec(
                "ratelimit_requests_total",
                "Rate-limit decisions by kind (http, websocket, sse) and decision (allowed, denied).",
                &["kind", "decision"],
            )?,
            redis_up: gauge_vec("redis_up", "1 when the Redis dependency answers, by role.", &["role"])?,
            redis_breaker_state: gauge_vec(
                "redis_circuit_breaker_state",
                "Circuit breaker state by role: 0 closed, 1 half-open, 2 open.",
                &["role"],
            )?,
            redis_reconnects: counter_vec("redis_reconnects_total", "Redis reconnections, by role.", &["role"])?,
            pubsub_messages: counter_vec(
                "pubsub_messages_total",
                "Redis Pub/Sub trigger messages by result (delivered, malformed, failed).",
                &["result"],
            )?,
            pubsub_subscriptions_lost: counter(
                "pubsub_subscriptions_lost_total",
                "Redis Pub/Sub subscriptions that ended (connection closed or keep-alive failed).",
            )?,
            tcp_connections_refused: counter_vec(
                "tcp_connections_refused_total",
                "TCP connections closed at accept, by reason (per_ip_limit).",
                &["reason"],
            )?,
            http_connection_timeouts: counter_vec(
                "http_connection_timeouts_total",
                "HTTP connections closed by a server timeout, by timeout (header_read, idle).",
                &["timeout"],
            )?,
            snapshot: scrape::SnapshotGauges::register(&registry)?,
            tenant_series: if tenant_label { Some(tenant_series::TenantSeries::register(&registry)?) } else { None },
            registry,
        })
    }
}

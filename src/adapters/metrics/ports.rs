//! The Prometheus metrics behind the ports transports and the service report to.

use std::time::Duration;

use super::{LatencyRecorder, Metrics};
use crate::ports::{ConnectionInfo, ConnectionObserver, TransportMetrics};

impl TransportMetrics for Metrics {
    fn client_frame(&self, kind: &'static str) {
        self.ws_frames_received.with_label_values(&[kind]).inc();
    }

    fn ack(&self, result: &'static str, latency: Option<Duration>) {
        self.ack_received.with_label_values(&[result]).inc();
        if let Some(latency) = latency {
            self.ack_latency.observe(latency.as_secs_f64());
        }
    }

    fn batch(&self, items: usize) {
        self.batch_requests.inc();
        self.batch_size.observe(items as f64);
    }

    fn rate_limit(&self, kind: &'static str, decision: &'static str) {
        self.ratelimit_decisions.with_label_values(&[kind, decision]).inc();
    }

    fn latency_recorder(&self) -> Box<dyn crate::ports::LatencyRecorder> {
        Box::new(LatencyRecorder::new(self))
    }

    fn connection_refused(&self, reason: &'static str) {
        self.tcp_connections_refused.with_label_values(&[reason]).inc();
    }

    fn connection_timed_out(&self, timeout: &'static str) {
        self.http_connection_timeouts.with_label_values(&[timeout]).inc();
    }
}

impl ConnectionObserver for Metrics {
    fn opened(&self, connection: ConnectionInfo<'_>) {
        let transport = connection.transport.as_str();
        match self.tenant_series {
            Some(_) => self.connections_opened.with_label_values(&[transport, connection.identity.tenant.as_str()]),
            None => self.connections_opened.with_label_values(&[transport]),
        }
        .inc();
    }

    fn closed(&self, connection: ConnectionInfo<'_>, lived: Duration) {
        let transport = connection.transport.as_str();
        match self.tenant_series {
            Some(_) => self.connections_closed.with_label_values(&[transport, connection.identity.tenant.as_str()]),
            None => self.connections_closed.with_label_values(&[transport]),
        }
        .inc();
        self.connection_duration.with_label_values(&[transport]).observe(lived.as_secs_f64());
    }
}

//! Ties a registry entry to the life of its transport task: dropping the guard unregisters it, whether
//! the connection ran or its upgrade never happened.

use std::sync::Arc;

use crate::adapters::metrics::Metrics;
use crate::service::{ConnectionEntry, ConnectionRegistry, Transport};

pub struct Registration {
    registry: Arc<ConnectionRegistry>,
    pub entry: Arc<ConnectionEntry>,
    metrics: Arc<Metrics>,
}

impl Registration {
    pub fn new(registry: Arc<ConnectionRegistry>, entry: Arc<ConnectionEntry>, metrics: Arc<Metrics>) -> Self {
        metrics.connections_opened.with_label_values(&[transport_label(entry.transport)]).inc();
        Self { registry, entry, metrics }
    }
}

pub fn transport_label(transport: Transport) -> &'static str {
    match transport {
        Transport::WebSocket => "websocket",
        Transport::Sse => "sse",
    }
}

impl Registration {
    /// Takes the connection out of the registry now, before its socket is closed: a closing
    /// connection takes no more notifications, frees its place in the limits, and its user's
    /// queue can replay to another device. Safe to call more than once; dropping does it too.
    pub fn release(&self) {
        if self.registry.unregister(self.entry.id) {
            let label = [transport_label(self.entry.transport)];
            self.metrics.connections_closed.with_label_values(&label).inc();
            let lived = (chrono::Utc::now() - self.entry.connected_at).num_milliseconds().max(0) as f64 / 1000.0;
            self.metrics.connection_duration.with_label_values(&label).observe(lived);
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.release();
    }
}

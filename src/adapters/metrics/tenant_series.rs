//! Per-tenant series, only with `TENANT_METRICS_LABEL=true` (every tenant is a series of its own: mind
//! the cardinality): the connection counters get a `tenant` label, and two families follow each
//! tenant at scrape time, `ara_tenant_connections{tenant}` and
//! `ara_tenant_notifications_sent_total{tenant}`.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::service::NotificationService;

pub(super) struct TenantSeries {
    connections: IntGaugeVec,
    sent: IntCounterVec,
}

impl TenantSeries {
    pub(super) fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let connections =
            IntGaugeVec::new(Opts::new("tenant_connections", "Live client connections by tenant."), &["tenant"])?;
        registry.register(Box::new(connections.clone()))?;
        let sent = IntCounterVec::new(
            Opts::new("tenant_notifications_sent_total", "Notifications accepted, by tenant."),
            &["tenant"],
        )?;
        registry.register(Box::new(sent.clone()))?;
        Ok(Self { connections, sent })
    }

    /// Copies the service's per-tenant counts in (the caller holds the mirror lock).
    pub(super) fn refresh(&self, service: &NotificationService) {
        // A tenant whose last connection closed drops out rather than stay at its last value.
        self.connections.reset();
        for (tenant, connections) in service.tenant_connection_counts() {
            self.connections.with_label_values(&[tenant.as_str()]).set(connections as i64);
        }
        for (tenant, total) in service.tenant_message_totals() {
            let counter = self.sent.with_label_values(&[tenant.as_str()]);
            let current = counter.get();
            if total > current {
                counter.inc_by(total - current);
            }
        }
    }
}

//! `ara_runtime_alive_tasks`: the tokio tasks alive at scrape time, so that a soak can show that
//! connections which come and go leave no task behind.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::IntGauge;

pub(super) struct AliveTasks {
    gauge: IntGauge,
}

impl AliveTasks {
    pub(super) fn new() -> Result<Self, prometheus::Error> {
        Ok(Self { gauge: IntGauge::new("runtime_alive_tasks", "Tokio tasks alive in the server's runtime.")? })
    }
}

impl Collector for AliveTasks {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // Gathered by the `/metrics` handler, on the runtime; elsewhere the last value stands.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.gauge.set(i64::try_from(runtime.metrics().num_alive_tasks()).unwrap_or(i64::MAX));
        }
        self.gauge.collect()
    }
}

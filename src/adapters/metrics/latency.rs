//! Delivery latency, recorded where frames are written.

use super::Metrics;

/// Per-connection delivery-latency samples, merged into the shared histogram about once a second so
/// that recipients of one fan-out never contend on the same atomics.
pub struct LatencyRecorder {
    local: prometheus::local::LocalHistogram,
    last_flush: std::time::Instant,
}

impl LatencyRecorder {
    pub fn new(metrics: &Metrics) -> Self {
        Self { local: metrics.delivery_latency.local(), last_flush: std::time::Instant::now() }
    }
}

impl crate::ports::LatencyRecorder for LatencyRecorder {
    /// Records frames accepted at the given Unix-millisecond times as written now.
    fn record_written(&mut self, accepted_ms: &[i64]) {
        if accepted_ms.is_empty() {
            return;
        }
        let now = chrono::Utc::now().timestamp_millis();
        for at in accepted_ms {
            self.local.observe((now - at).max(0) as f64 / 1000.0);
        }
        if self.last_flush.elapsed() >= std::time::Duration::from_secs(1) {
            crate::ports::LatencyRecorder::flush(self);
        }
    }

    fn flush(&mut self) {
        self.local.flush();
        self.last_flush = std::time::Instant::now();
    }
}

impl Drop for LatencyRecorder {
    fn drop(&mut self) {
        // A connection that ends between merges still reports its last samples.
        self.local.flush();
    }
}

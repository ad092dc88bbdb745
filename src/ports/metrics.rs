//! What transports report about their own work (client frames, ACKs, write latency, HTTP requests),
//! so that they need no metrics library. The Prometheus adapter implements it.
//!
//! Contract: every call returns at once and never fails; a recorder is owned by one connection and
//! may buffer until `flush` (or its drop).

use std::sync::Arc;
use std::time::Duration;

/// Delivery latency of one connection: from a notification's acceptance to its socket write.
pub trait LatencyRecorder: Send {
    /// Records the writes of frames accepted at these Unix milliseconds.
    fn record_written(&mut self, accepted_at_ms: &[i64]);
    fn flush(&mut self);
}

pub trait TransportMetrics: Send + Sync {
    /// A client frame of this kind (`subscribe`, `ack`, `invalid`, `binary`, ...).
    fn client_frame(&self, kind: &'static str);
    /// An ACK and how it ended (`acked`, `unknown`, ...), with its latency when it succeeded.
    fn ack(&self, result: &'static str, latency: Option<Duration>);
    fn batch(&self, items: usize);
    fn rate_limit(&self, kind: &'static str, decision: &'static str);
    fn latency_recorder(&self) -> Box<dyn LatencyRecorder>;
    /// A TCP connection closed at accept, and why (`per_ip_limit`).
    fn connection_refused(&self, reason: &'static str);
    /// An HTTP connection closed by a server timeout (`header_read`, `idle`).
    fn connection_timed_out(&self, timeout: &'static str);
}

pub type DynTransportMetrics = Arc<dyn TransportMetrics>;

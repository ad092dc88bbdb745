//! What the shared Redis connection and the Pub/Sub trigger tell `/health`, `/stats` and `/metrics`.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::breaker::BreakerState;
use super::pubsub::PubSubStatus;
use super::ResilientRedis;
use crate::ports::{Diagnostic, Report, Sample, StatsUnavailable, Status};

fn breaker_code(state: BreakerState) -> i64 {
    match state {
        BreakerState::Closed => 0,
        BreakerState::HalfOpen => 1,
        BreakerState::Open => 2,
    }
}

fn details(value: Value) -> Option<serde_json::Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The shared connection (stores, rate limiter), under `redis`.
pub struct RedisDiagnostic(pub Arc<ResilientRedis>);

#[async_trait]
impl Diagnostic for RedisDiagnostic {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn required(&self) -> bool {
        false
    }

    /// A PING through the breaker (it fails at once while the breaker is open). It runs on a task of
    /// its own, already bounded by `REDIS_TIMEOUT_MS`, so that when `/health` stops waiting the call
    /// still finishes and the breaker records it, instead of holding a half-open probe slot for a
    /// caller that vanished.
    async fn health(&self) -> Report {
        let redis = self.0.clone();
        let answered = matches!(tokio::spawn(async move { redis.ping().await }).await, Ok(Ok(())));
        let breaker = self.0.breaker_state();
        let status = match (answered, breaker) {
            (true, BreakerState::Closed) => Status::Healthy,
            (true, _) => Status::Degraded,
            (false, _) => Status::Down,
        };
        Report { status, details: details(json!({ "breaker": breaker })) }
    }

    async fn stats(&self) -> Result<Option<Value>, StatsUnavailable> {
        Ok(serde_json::to_value(self.0.stats()).ok())
    }

    fn samples(&self) -> Vec<Sample> {
        let stats = self.0.stats();
        vec![
            Sample { metric: "redis_up", label: Some("shared"), value: i64::from(stats.connected) },
            Sample { metric: "redis_circuit_breaker_state", label: Some("shared"), value: breaker_code(stats.breaker) },
            Sample { metric: "redis_reconnects_total", label: Some("shared"), value: stats.reconnects as i64 },
        ]
    }
}

/// The Pub/Sub trigger, under `pubsub`: healthy while subscribed and its canary comes back within
/// `deadline`.
pub struct PubSubDiagnostic {
    pub status: Arc<PubSubStatus>,
    pub deadline: std::time::Duration,
}

#[async_trait]
impl Diagnostic for PubSubDiagnostic {
    fn name(&self) -> &'static str {
        "pubsub"
    }

    async fn health(&self) -> Report {
        let subscribed = self.status.is_subscribed();
        let status = if self.status.is_proven(self.deadline) { Status::Healthy } else { Status::Down };
        let canary_age_ms = self.status.canary_age_ms();
        Report { status, details: details(json!({ "subscribed": subscribed, "canary_age_ms": canary_age_ms })) }
    }

    async fn stats(&self) -> Result<Option<Value>, StatsUnavailable> {
        Ok(serde_json::to_value(self.status.stats()).ok())
    }

    fn samples(&self) -> Vec<Sample> {
        let s = self.status.stats();
        let total = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        vec![
            Sample { metric: "pubsub_messages_total", label: Some("delivered"), value: total(s.delivered) },
            Sample { metric: "pubsub_messages_total", label: Some("malformed"), value: total(s.malformed) },
            Sample { metric: "pubsub_messages_total", label: Some("failed"), value: total(s.failed) },
            Sample { metric: "redis_up", label: Some("pubsub"), value: i64::from(s.subscribed) },
            Sample { metric: "redis_reconnects_total", label: Some("pubsub"), value: total(s.reconnects) },
            Sample { metric: "pubsub_subscriptions_lost_total", label: None, value: total(s.subscriptions_lost) },
        ]
    }
}

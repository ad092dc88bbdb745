//! The diagnostics of the dependencies in use, registered for `/health`, `/stats` and `/metrics`:
//! the stores (through their ports) and the rate limiter; Redis and the Pub/Sub trigger bring their
//! own.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::adapters::http::RateLimitPolicy;
use crate::adapters::ratelimit::FallbackRateLimiter;
use crate::ports::{
    Diagnostic, DynAckStore, DynDiagnostic, DynOfflineQueue, DynTemplateStore, Report, StatsUnavailable, Status,
};

fn up(healthy: bool) -> Report {
    Report::status(if healthy { Status::Healthy } else { Status::Down })
}

pub struct QueueDiagnostic(pub DynOfflineQueue);

#[async_trait]
impl Diagnostic for QueueDiagnostic {
    fn name(&self) -> &'static str {
        "offline_queue"
    }

    fn stats_name(&self) -> &'static str {
        "queue"
    }

    async fn health(&self) -> Report {
        up(self.0.check_health().await.is_ok())
    }

    async fn stats(&self) -> Result<Option<Value>, StatsUnavailable> {
        let stats =
            self.0.stats().await.map_err(|e| StatsUnavailable { what: "offline queue", source: Box::new(e) })?;
        Ok(serde_json::to_value(stats).ok())
    }
}

pub struct AckDiagnostic(pub DynAckStore);

#[async_trait]
impl Diagnostic for AckDiagnostic {
    fn name(&self) -> &'static str {
        "ack_store"
    }

    fn stats_name(&self) -> &'static str {
        "acks"
    }

    async fn health(&self) -> Report {
        up(self.0.check_health().await.is_ok())
    }

    async fn stats(&self) -> Result<Option<Value>, StatsUnavailable> {
        let stats = self.0.stats().await.map_err(|e| StatsUnavailable { what: "ACK store", source: Box::new(e) })?;
        Ok(serde_json::to_value(stats).ok())
    }
}

pub struct TemplateDiagnostic(pub DynTemplateStore);

#[async_trait]
impl Diagnostic for TemplateDiagnostic {
    fn name(&self) -> &'static str {
        "template_store"
    }

    async fn health(&self) -> Report {
        up(self.0.check_health().await.is_ok())
    }
}

pub struct RateLimiterDiagnostic {
    pub policy: Arc<RateLimitPolicy>,
    /// Set when the limiter is the Redis one with its local fallback.
    pub fallback: Option<Arc<FallbackRateLimiter>>,
}

#[async_trait]
impl Diagnostic for RateLimiterDiagnostic {
    fn name(&self) -> &'static str {
        "rate_limiter"
    }

    fn required(&self) -> bool {
        false
    }

    /// A limiter whose own backend does not answer is answering with its fallback. The check runs on a
    /// task of its own, so that a Redis call through the breaker finishes (and is recorded) even when
    /// `/health` stops waiting.
    async fn health(&self) -> Report {
        let limiter = self.policy.limiter.clone();
        let answered = matches!(tokio::spawn(async move { limiter.check_health().await }).await, Ok(Ok(())));
        let fallback = !answered;
        let details = json!({"backend": self.policy.limiter.backend(), "fallback": fallback});
        Report {
            status: if fallback { Status::Degraded } else { Status::Healthy },
            details: details.as_object().cloned(),
        }
    }

    async fn stats(&self) -> Result<Option<Value>, StatsUnavailable> {
        let mut section = json!({"backend": self.policy.limiter.backend(), "rejected": self.policy.rejected()});
        if let (Some(fallback), Some(map)) = (&self.fallback, section.as_object_mut()) {
            if let Ok(Value::Object(stats)) = serde_json::to_value(fallback.stats()) {
                map.extend(stats);
            }
        }
        Ok(Some(section))
    }
}

/// The list in the order `/health` shows it.
pub fn list(entries: impl IntoIterator<Item = Option<DynDiagnostic>>) -> Arc<[DynDiagnostic]> {
    entries.into_iter().flatten().collect()
}

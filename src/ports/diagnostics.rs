//! What each dependency says about itself for `/health`, `/stats` and `/metrics`. The app registers
//! one per dependency in use (stores, Redis, the Pub/Sub trigger, the rate limiter); the HTTP and
//! metrics adapters render what the list says, knowing none of them.
//!
//! Contract: `health` may do I/O but bounds itself (the caller bounds it again and counts a late
//! answer as down); `stats` is for counters — an error there means the dependency could not be read;
//! `samples` returns at once.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Healthy,
    /// Working, but on a fallback or half-recovered.
    Degraded,
    Down,
}

/// A dependency's health: its status alone (shown as `"healthy"`), or with details (shown as
/// `{"status":"healthy", …details}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub status: Status,
    pub details: Option<Map<String, Value>>,
}

impl Report {
    pub fn status(status: Status) -> Self {
        Self { status, details: None }
    }

    pub fn to_json(&self) -> Value {
        let status = serde_json::to_value(self.status).unwrap_or(Value::Null);
        match &self.details {
            None => status,
            Some(details) => {
                let mut object = Map::new();
                object.insert("status".into(), status);
                object.extend(details.clone());
                Value::Object(object)
            }
        }
    }
}

/// The dependency's counters could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the {what} is unavailable")]
pub struct StatsUnavailable {
    pub what: &'static str,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// One value for a metric family the metrics adapter knows (`redis_up{role=…}` and the like).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub metric: &'static str,
    /// The value of the family's one label, if it has one.
    pub label: Option<&'static str>,
    pub value: i64,
}

#[async_trait]
pub trait Diagnostic: Send + Sync {
    /// The key under which `/health` shows it.
    fn name(&self) -> &'static str;

    /// The key of its `/stats` section, when it differs from its name.
    fn stats_name(&self) -> &'static str {
        self.name()
    }

    async fn health(&self) -> Report;

    /// Whether delivery needs it: while it is down the node is not ready (`/health/ready`). A
    /// dependency with a fallback (the rate limiter) or whose users report for it (the shared Redis
    /// connection, through the stores and the Pub/Sub trigger) only degrades `/health`.
    fn required(&self) -> bool {
        true
    }

    /// Counters for `/stats`; `None` when it has none.
    async fn stats(&self) -> Result<Option<Value>, StatsUnavailable> {
        Ok(None)
    }

    fn samples(&self) -> Vec<Sample> {
        Vec::new()
    }
}

pub type DynDiagnostic = Arc<dyn Diagnostic>;

//! The audit log in memory (the last [`MAX_EVENTS`] actions), and the log-line writer that every
//! audit log is wrapped in: each action is a structured `ara::audit` event whatever else keeps it.

use std::collections::VecDeque;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::domain::audit::{AuditEvent, AuditRecord};
use crate::domain::TenantId;
use crate::ports::{AuditError, AuditLog, DynAuditLog};

pub const MAX_EVENTS: usize = 10_000;

#[derive(Default)]
pub struct MemoryAuditLog {
    events: Mutex<(i64, VecDeque<AuditEvent>)>,
}

impl MemoryAuditLog {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl AuditLog for MemoryAuditLog {
    async fn record(&self, record: &AuditRecord) -> Result<i64, AuditError> {
        let mut guard = self.events.lock();
        guard.0 += 1;
        let id = guard.0;
        guard.1.push_back(AuditEvent { id, record: record.clone() });
        while guard.1.len() > MAX_EVENTS {
            guard.1.pop_front();
        }
        Ok(id)
    }

    async fn list(
        &self,
        tenant: Option<&TenantId>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, AuditError> {
        let guard = self.events.lock();
        Ok(guard
            .1
            .iter()
            .rev()
            .filter(|e| before.is_none_or(|b| e.id < b) && tenant.is_none_or(|t| &e.record.tenant == t))
            .take(limit)
            .cloned()
            .collect())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

/// Writes every action as a structured log line (target `ara::audit`), then hands it to `inner`.
pub struct LoggedAuditLog {
    inner: DynAuditLog,
}

impl LoggedAuditLog {
    pub fn new(inner: DynAuditLog) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl AuditLog for LoggedAuditLog {
    async fn record(&self, record: &AuditRecord) -> Result<i64, AuditError> {
        tracing::info!(
            target: "ara::audit",
            actor = %record.actor,
            tenant = %record.tenant,
            action = %record.action,
            target_id = %record.target,
            details = %record.details,
            source_ip = record.source_ip.as_deref(),
            request_id = record.request_id.as_deref(),
            "audit"
        );
        self.inner.record(record).await
    }

    async fn list(
        &self,
        tenant: Option<&TenantId>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, AuditError> {
        self.inner.list(tenant, before, limit).await
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

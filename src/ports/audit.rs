//! The audit log of administrative actions.
//!
//! Contract: `record` keeps the action and numbers it with an id larger than every earlier one;
//! `list` returns actions newest first, those with an id below `before` when given, of `tenant` when
//! given, at most `limit`. A log that keeps nothing (it only writes lines) lists nothing.

use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;

use super::BoxError;
use crate::domain::audit::{AuditEvent, AuditRecord};
use crate::domain::TenantId;

#[derive(Debug, Error)]
pub enum AuditError {
    #[error("audit log unavailable")]
    Unavailable(#[source] BoxError),
    #[error("audit log failed")]
    Unexpected(#[source] BoxError),
}

#[async_trait]
pub trait AuditLog: Send + Sync {
    /// # Errors
    /// MUST return `Unavailable` when the store cannot be reached (nothing was kept).
    async fn record(&self, record: &AuditRecord) -> Result<i64, AuditError>;

    async fn list(
        &self,
        tenant: Option<&TenantId>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, AuditError>;

    /// `log`, `memory` or `postgres`.
    fn backend(&self) -> &'static str;
}

pub type DynAuditLog = Arc<dyn AuditLog>;

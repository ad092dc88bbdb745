//! Administrative actions, as the audit log keeps them: who did what to what, when, from where.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::TenantId;

/// One action, before the log numbers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    /// Which key acted: `api_key`, `admin`, `tenant_key`, `open` (no key configured), `system`.
    pub actor: String,
    /// The tenant acted in.
    pub tenant: TenantId,
    /// What was done: `user.disconnect`, `token.revoke`, `tenant.create`, …
    pub action: String,
    /// What it was done to: a user id, a `jti`, a tenant id.
    pub target: String,
    /// Whatever else describes the action (never a secret).
    pub details: serde_json::Value,
    /// The client address the request came from, when known.
    pub source_ip: Option<String>,
    /// The request's `X-Request-Id`, to find it in the logs.
    pub request_id: Option<String>,
}

/// A recorded action, with its place in the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    /// Increasing in the order of recording; the cursor of `GET /api/v1/audit`.
    pub id: i64,
    #[serde(flatten)]
    pub record: AuditRecord,
}

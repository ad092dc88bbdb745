//! Recording administrative actions. An action is done first and recorded after: a failed record
//! is logged (the `ara::audit` line is written either way) and does not undo or refuse the action.

use super::NotificationService;
use crate::domain::audit::{AuditEvent, AuditRecord};
use crate::domain::{ErrorChain, TenantId};
use crate::ports::{AuditError, DynAuditLog};

impl NotificationService {
    pub fn with_audit(mut self, log: DynAuditLog) -> Self {
        self.audit = Some(log);
        self
    }

    /// Records `record`; returns its id when a store kept it.
    pub async fn record_audit(&self, record: AuditRecord) -> Option<i64> {
        let log = self.audit.as_ref()?;
        match log.record(&record).await {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::error!(error = %ErrorChain(&e), action = %record.action, "could not keep an audit record");
                None
            }
        }
    }

    /// Actions newest first, below the cursor `before`, of `tenant` when given.
    ///
    /// # Errors
    /// The log's.
    pub async fn audit_page(
        &self,
        tenant: Option<&TenantId>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, AuditError> {
        match &self.audit {
            Some(log) => log.list(tenant, before, limit).await,
            None => Ok(Vec::new()),
        }
    }

    pub fn audit_backend(&self) -> Option<&'static str> {
        self.audit.as_ref().map(|log| log.backend())
    }
}

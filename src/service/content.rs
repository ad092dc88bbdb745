//! One use case for "send this content to this target", shared by the HTTP handlers, batch items and
//! the Redis Pub/Sub trigger, so that every trigger accepts the same notifications with the same
//! errors: resolve the content (inline, or a template and its variables) within the tenant's payload
//! limit, then send.

use super::tenants::QuotaExceeded;
use super::{NotificationService, ResolveError, SendError, SendReport};
use crate::domain::{NotificationDraft, Priority, Target, TenantId, ValidationError};

use super::ContentSource;

/// A send whose content is resolved and valid, ready to go (batches prepare every item first).
#[derive(Debug, Clone)]
pub struct PreparedSend {
    pub draft: NotificationDraft,
    pub target: Target,
}

#[derive(Debug, thiserror::Error)]
pub enum SendContentError {
    #[error(transparent)]
    Content(#[from] ResolveError),
    #[error(transparent)]
    Send(#[from] SendError),
}

impl NotificationService {
    /// Resolves `content` for `tenant` (templates render here); `priority` and `ttl_seconds` are the
    /// send's own and override a template's defaults.
    pub async fn prepare(
        &self,
        tenant: TenantId,
        content: ContentSource,
        priority: Option<Priority>,
        ttl_seconds: Option<u32>,
        target: Target,
    ) -> Result<PreparedSend, ResolveError> {
        self.admit_send(&tenant).await?;
        let max = self.policies.max_payload_bytes(&tenant);
        let draft = match self.templates.draft(tenant.clone(), content, priority, ttl_seconds, max).await {
            Err(ResolveError::Validation(
                ValidationError::PayloadTooLarge { .. } | ValidationError::RenderedPayloadTooLarge { .. },
            )) if self.tenant_sets_payload_limit(&tenant) => {
                // The tenant's own quota, not the server's limit: said as a quota.
                let quota = QuotaExceeded { quota: "max_payload_bytes", limit: max as u64, retry_after: None };
                return Err(ResolveError::Tenant(quota.into()));
            }
            other => other?,
        };
        Ok(PreparedSend { draft, target })
    }

    pub async fn send_prepared(&self, prepared: PreparedSend) -> Result<SendReport, SendError> {
        self.send(prepared.draft, &prepared.target).await
    }

    /// [`Self::prepare`] then send.
    pub async fn send_content(
        &self,
        tenant: TenantId,
        content: ContentSource,
        priority: Option<Priority>,
        ttl_seconds: Option<u32>,
        target: Target,
    ) -> Result<SendReport, SendContentError> {
        let prepared = self.prepare(tenant, content, priority, ttl_seconds, target).await?;
        Ok(self.send_prepared(prepared).await?)
    }
}

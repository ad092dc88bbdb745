//! Why a tenant may not do something now.

use std::time::Duration;

use crate::domain::{Quoted, TenantId};

/// A tenant quota that a send or a connect would exceed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant quota {quota} ({limit}) exceeded")]
pub struct QuotaExceeded {
    /// The quota's name, as in the tenant's limits (`sends_per_second`, `max_connections`, …).
    pub quota: &'static str,
    pub limit: u64,
    /// When trying again may succeed; `None` when only a freed place (a closed connection) helps.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantRefusal {
    #[error("no tenant {}", Quoted(.0.as_str()))]
    NotFound(TenantId),
    #[error("tenant {} is suspended", Quoted(.0.as_str()))]
    Suspended(TenantId),
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
}

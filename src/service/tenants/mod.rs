//! Managed tenants (`TENANT_ENABLED=true`): the cache every hot-path question is answered from (the
//! [`TenantDirectory`](crate::ports::TenantDirectory) port), the [`TenantManager`] use cases that
//! change tenants and keys (store first, then the cache, so a change applies at once on this node and
//! within `TENANT_CACHE_REFRESH_SECONDS` on the others), the quotas a send or a connect is held to, and
//! the per-tenant counters.

mod cache;
mod manager;
mod refusal;
mod stats;

pub use cache::{ConfiguredLimits, TenantCache};
pub use manager::{CreatedKey, KeyCheck, TenantChange, TenantManager, TenantManagerError, TenantUsage};
pub use refusal::{QuotaExceeded, TenantRefusal};
pub use stats::{day_of, TenantStats};

use crate::ports::{DynRateLimiter, DynTenantDirectory};

/// What the service needs to hold sends and connects to their tenant.
pub struct TenantRules {
    pub directory: DynTenantDirectory,
    /// Counts sends against `sends_per_second`; a Redis backend shares the budget between nodes.
    pub limiter: DynRateLimiter,
}

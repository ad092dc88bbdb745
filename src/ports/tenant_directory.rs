//! What the rest of Ara asks about tenants: does it exist, may it act, what are its limits, whose is
//! this API key. The parts that ask (the HTTP caller resolution, connects, the Pub/Sub trigger, the
//! policy source) know nothing of where tenants are kept.
//!
//! Contract: answers at once, without I/O (an implementation backed by a store keeps a cache), and
//! reflects a change made through the same node as soon as that change returned.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::{TenantId, TenantLimits, TenantStatus, TokenKey};

pub trait TenantDirectory: Send + Sync {
    /// `None` when there is no such tenant.
    fn status(&self, tenant: &TenantId) -> Option<TenantStatus>;

    /// The tenant's limits where they are set (its own over its configured ones over the defaults);
    /// `None` fields take the server's settings.
    fn limits(&self, tenant: &TenantId) -> TenantLimits;

    /// The tenant whose API key `presented` is, if it is one valid at `now` (compared in constant time).
    fn tenant_of_key(&self, presented: &str, now: DateTime<Utc>) -> Option<TenantId>;

    /// The keys the tenant's client tokens are verified with; empty when it has none of its own (or
    /// does not exist).
    fn token_keys(&self, tenant: &TenantId) -> Vec<TokenKey>;

    fn exists(&self, tenant: &TenantId) -> bool {
        self.status(tenant).is_some()
    }

    fn is_active(&self, tenant: &TenantId) -> bool {
        self.status(tenant) == Some(TenantStatus::Active)
    }
}

pub type DynTenantDirectory = Arc<dyn TenantDirectory>;

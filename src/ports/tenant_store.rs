//! Storage of managed tenants and their API keys (hashes only).
//!
//! Contract (checked by `tests/contracts/tenant_store.rs` against every adapter):
//! - a tenant is stored whole and read back equal (limits, metadata, timestamps to the millisecond);
//! - `list` returns every tenant ordered by id, `keys` a tenant's keys ordered by creation then id;
//! - `update` replaces everything but the id and `created_at`;
//! - deleting a tenant deletes its keys;
//! - key ids are unique across tenants;
//! - every call either fully happens or not at all.
//!
//! The hot path never calls a store: the service reads tenants and keys through its cache.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

use super::BoxError;
use crate::domain::{Quoted, Tenant, TenantId, TenantKey};

#[derive(Debug, Error)]
pub enum TenantStoreError {
    /// MUST be returned by `create` when a tenant with this id exists, and by `add_key` when the key
    /// id is taken.
    #[error("{0} already exists")]
    Duplicate(String),
    /// MUST be returned by `update`, `delete`, `add_key` (for the tenant) and `revoke_key` (for the
    /// key) when there is no such thing.
    #[error("{0} does not exist")]
    NotFound(String),
    /// The store cannot be reached (connection refused, pool exhausted, timeout); retrying may help.
    #[error("the tenant store is unavailable")]
    Unavailable(#[source] BoxError),
    /// The store answered with data it cannot read back.
    #[error("the tenant store returned data it cannot read")]
    Corrupt(#[source] BoxError),
    /// The store answered, but not as expected.
    #[error("the tenant store failed")]
    Unexpected(#[source] BoxError),
}

impl TenantStoreError {
    pub fn tenant_not_found(id: &TenantId) -> Self {
        Self::NotFound(format!("tenant {}", Quoted(id.as_str())))
    }
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// # Errors
    /// MUST return [`TenantStoreError::Duplicate`] if the id is taken, leaving the stored one unchanged.
    async fn create(&self, tenant: &Tenant) -> Result<(), TenantStoreError>;

    /// Every tenant, ordered by id.
    async fn list(&self) -> Result<Vec<Tenant>, TenantStoreError>;

    /// Replaces name, status, limits, metadata and `updated_at`.
    ///
    /// # Errors
    /// MUST return [`TenantStoreError::NotFound`] if there is no tenant `tenant.id`.
    async fn update(&self, tenant: &Tenant) -> Result<(), TenantStoreError>;

    /// Removes a tenant and its keys.
    ///
    /// # Errors
    /// MUST return [`TenantStoreError::NotFound`] if there is no such tenant.
    async fn delete(&self, id: &TenantId) -> Result<(), TenantStoreError>;

    /// # Errors
    /// MUST return [`TenantStoreError::NotFound`] if `key.tenant` does not exist,
    /// [`TenantStoreError::Duplicate`] if `key.id` is taken (by any tenant).
    async fn add_key(&self, key: &TenantKey) -> Result<(), TenantStoreError>;

    /// Every key of every tenant (revoked ones included), ordered by tenant, creation, id: what the
    /// cache loads.
    async fn keys(&self) -> Result<Vec<TenantKey>, TenantStoreError>;

    /// Sets when the tenant's key `key_id` stops working (a revoked key stays listed).
    ///
    /// # Errors
    /// MUST return [`TenantStoreError::NotFound`] if the tenant has no key `key_id`.
    async fn revoke_key(&self, tenant: &TenantId, key_id: &str, at: DateTime<Utc>) -> Result<(), TenantStoreError>;

    async fn check_health(&self) -> Result<(), TenantStoreError>;
}

pub type DynTenantStore = Arc<dyn TenantStore>;

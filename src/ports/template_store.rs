//! Storage of notification templates, keyed by (tenant, template id).
//!
//! Contract (checked by `tests/contracts/template_store.rs` against every adapter):
//! - a template is stored whole and read back equal (payload JSON, optional priority and ttl, and
//!   timestamps to the millisecond, which is what callers stamp);
//! - ids are unique per tenant: the same id in two tenants names two templates;
//! - `list` returns the tenant's templates ordered by id;
//! - `update` replaces everything but the id and `created_at`;
//! - every call either fully happens or not at all.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::domain::{Quoted, Template, TemplateId, TemplateSpec, TenantId};

type Source = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Error)]
pub enum TemplateStoreError {
    /// MUST be returned by `create` when the tenant already has a template with this id.
    #[error("a template with id {} already exists", Quoted(.0.as_str()))]
    Duplicate(TemplateId),
    /// MUST be returned by `update` and `delete` when the tenant has no template with this id.
    #[error("no template with id {}", Quoted(.0.as_str()))]
    NotFound(TemplateId),
    /// The store cannot be reached (connection refused, pool exhausted, timeout); retrying may help.
    #[error("the template store is unavailable")]
    Unavailable(#[source] Source),
    /// The store answered with data it cannot read back.
    #[error("the template store returned data it cannot read")]
    Corrupt(#[source] Source),
    /// The store answered, but not as expected (a refused statement).
    #[error("the template store failed")]
    Unexpected(#[source] Source),
}

#[async_trait]
pub trait TemplateStore: Send + Sync {
    /// Stores a new template for `tenant`.
    ///
    /// # Errors
    /// MUST return [`TemplateStoreError::Duplicate`] if `tenant` already has `template.id`, leaving the
    /// stored one unchanged.
    async fn create(&self, tenant: &TenantId, template: &Template) -> Result<(), TemplateStoreError>;

    /// The tenant's template with this id, if any.
    async fn get(&self, tenant: &TenantId, id: &TemplateId) -> Result<Option<Template>, TemplateStoreError>;

    /// Every template of `tenant`, ordered by id.
    async fn list(&self, tenant: &TenantId) -> Result<Vec<Template>, TemplateStoreError>;

    /// Replaces the spec of an existing template and sets its `updated_at`; returns the stored result
    /// (with its original `created_at`).
    ///
    /// # Errors
    /// MUST return [`TemplateStoreError::NotFound`] if `tenant` has no template `id`.
    async fn update(
        &self,
        tenant: &TenantId,
        id: &TemplateId,
        spec: &TemplateSpec,
        updated_at: DateTime<Utc>,
    ) -> Result<Template, TemplateStoreError>;

    /// Removes a template.
    ///
    /// # Errors
    /// MUST return [`TemplateStoreError::NotFound`] if `tenant` has no template `id`.
    async fn delete(&self, tenant: &TenantId, id: &TemplateId) -> Result<(), TemplateStoreError>;

    async fn check_health(&self) -> Result<(), TemplateStoreError>;
}

pub type DynTemplateStore = Arc<dyn TemplateStore>;

//! In-memory template store: the default. Templates are lost on restart; use the Postgres store
//! (`TEMPLATE_BACKEND=postgres`) to keep them.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use crate::domain::{Template, TemplateId, TemplateSpec, TenantId};
use crate::ports::{TemplateStore, TemplateStoreError};

/// Per tenant, templates ordered by id (which is the order `list` promises). Every call holds the
/// lock for a map operation only, never across an await.
#[derive(Debug, Default)]
pub struct MemoryTemplateStore {
    tenants: RwLock<HashMap<TenantId, BTreeMap<TemplateId, Template>>>,
}

impl MemoryTemplateStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl TemplateStore for MemoryTemplateStore {
    async fn create(&self, tenant: &TenantId, template: &Template) -> Result<(), TemplateStoreError> {
        let mut tenants = self.tenants.write();
        let templates = tenants.entry(tenant.clone()).or_default();
        if templates.contains_key(&template.id) {
            return Err(TemplateStoreError::Duplicate(template.id.clone()));
        }
        templates.insert(template.id.clone(), template.clone());
        Ok(())
    }

    async fn get(&self, tenant: &TenantId, id: &TemplateId) -> Result<Option<Template>, TemplateStoreError> {
        Ok(self.tenants.read().get(tenant).and_then(|t| t.get(id)).cloned())
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<Template>, TemplateStoreError> {
        Ok(self.tenants.read().get(tenant).map(|t| t.values().cloned().collect()).unwrap_or_default())
    }

    async fn update(
        &self,
        tenant: &TenantId,
        id: &TemplateId,
        spec: &TemplateSpec,
        updated_at: DateTime<Utc>,
    ) -> Result<Template, TemplateStoreError> {
        let mut tenants = self.tenants.write();
        let stored = tenants
            .get_mut(tenant)
            .and_then(|t| t.get_mut(id))
            .ok_or_else(|| TemplateStoreError::NotFound(id.clone()))?;
        stored.spec = spec.clone();
        stored.updated_at = updated_at;
        Ok(stored.clone())
    }

    async fn delete(&self, tenant: &TenantId, id: &TemplateId) -> Result<(), TemplateStoreError> {
        let mut tenants = self.tenants.write();
        let templates = tenants.get_mut(tenant).ok_or_else(|| TemplateStoreError::NotFound(id.clone()))?;
        templates.remove(id).ok_or_else(|| TemplateStoreError::NotFound(id.clone()))?;
        if templates.is_empty() {
            tenants.remove(tenant);
        }
        Ok(())
    }

    async fn check_health(&self) -> Result<(), TemplateStoreError> {
        Ok(())
    }
}

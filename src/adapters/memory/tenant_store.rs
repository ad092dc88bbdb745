//! In-memory tenant store: the default (`TENANT_BACKEND=memory`). Tenants created over the API and
//! their keys are lost on restart; use the Postgres store to keep them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use crate::domain::{Quoted, Tenant, TenantId, TenantKey};
use crate::ports::{TenantStore, TenantStoreError};

#[derive(Debug, Default)]
struct Data {
    tenants: BTreeMap<TenantId, Tenant>,
    /// By key id: unique across tenants.
    keys: BTreeMap<String, TenantKey>,
}

/// Every call holds the lock for map operations only, never across an await.
#[derive(Debug, Default)]
pub struct MemoryTenantStore {
    data: RwLock<Data>,
}

impl MemoryTenantStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl TenantStore for MemoryTenantStore {
    async fn create(&self, tenant: &Tenant) -> Result<(), TenantStoreError> {
        let mut data = self.data.write();
        if data.tenants.contains_key(&tenant.id) {
            return Err(TenantStoreError::Duplicate(format!("tenant {}", Quoted(tenant.id.as_str()))));
        }
        data.tenants.insert(tenant.id.clone(), tenant.clone());
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Tenant>, TenantStoreError> {
        Ok(self.data.read().tenants.values().cloned().collect())
    }

    async fn update(&self, tenant: &Tenant) -> Result<(), TenantStoreError> {
        let mut data = self.data.write();
        let stored = data.tenants.get_mut(&tenant.id).ok_or_else(|| TenantStoreError::tenant_not_found(&tenant.id))?;
        let created_at = stored.created_at;
        *stored = Tenant { created_at, ..tenant.clone() };
        Ok(())
    }

    async fn delete(&self, id: &TenantId) -> Result<(), TenantStoreError> {
        let mut data = self.data.write();
        data.tenants.remove(id).ok_or_else(|| TenantStoreError::tenant_not_found(id))?;
        data.keys.retain(|_, key| &key.tenant != id);
        Ok(())
    }

    async fn add_key(&self, key: &TenantKey) -> Result<(), TenantStoreError> {
        let mut data = self.data.write();
        if !data.tenants.contains_key(&key.tenant) {
            return Err(TenantStoreError::tenant_not_found(&key.tenant));
        }
        if data.keys.contains_key(&key.id) {
            return Err(TenantStoreError::Duplicate(format!("key {}", Quoted(&key.id))));
        }
        data.keys.insert(key.id.clone(), key.clone());
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<TenantKey>, TenantStoreError> {
        let mut keys: Vec<TenantKey> = self.data.read().keys.values().cloned().collect();
        keys.sort_by(|a, b| (&a.tenant, a.created_at, &a.id).cmp(&(&b.tenant, b.created_at, &b.id)));
        Ok(keys)
    }

    async fn revoke_key(&self, tenant: &TenantId, key_id: &str, at: DateTime<Utc>) -> Result<(), TenantStoreError> {
        let mut data = self.data.write();
        match data.keys.get_mut(key_id) {
            Some(key) if &key.tenant == tenant => {
                key.revoked_at = Some(at);
                Ok(())
            }
            _ => Err(TenantStoreError::NotFound(format!("key {}", Quoted(key_id)))),
        }
    }

    async fn check_health(&self) -> Result<(), TenantStoreError> {
        Ok(())
    }
}

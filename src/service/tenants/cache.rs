//! The node's copy of every tenant and key, which the hot path reads (no I/O) through the
//! `TenantDirectory` port. The manager writes through it after each store change; a periodic refresh
//! brings in what other nodes changed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use crate::domain::tenant::key_id_of;
use crate::domain::{Tenant, TenantId, TenantKey, TenantLimits, TenantStatus, TokenKey};
use crate::ports::{TenantDirectory, TenantStore, TenantStoreError};

/// The limits configured for a tenant (settings), under what is set over the API.
pub type ConfiguredLimits = Box<dyn Fn(&TenantId) -> TenantLimits + Send + Sync>;

#[derive(Default)]
struct Snapshot {
    tenants: HashMap<TenantId, Tenant>,
    /// By key id.
    keys: HashMap<String, TenantKey>,
}

pub struct TenantCache {
    snapshot: RwLock<Arc<Snapshot>>,
    /// Bumped by every local write, so that a refresh which read the store before it does not put
    /// back what the write replaced.
    generation: AtomicU64,
    configured: ConfiguredLimits,
}

impl TenantCache {
    pub fn new(configured: ConfiguredLimits) -> Self {
        Self { snapshot: RwLock::new(Arc::default()), generation: AtomicU64::new(0), configured }
    }

    /// Reloads everything from `store`. A local write during the reload wins: the reload is dropped
    /// and the next one brings the store's state.
    pub async fn refresh(&self, store: &dyn TenantStore) -> Result<(), TenantStoreError> {
        let before = self.generation.load(Ordering::Acquire);
        let tenants = store.list().await?;
        let keys = store.keys().await?;
        let fresh = Snapshot {
            tenants: tenants.into_iter().map(|t| (t.id.clone(), t)).collect(),
            keys: keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
        };
        let mut snapshot = self.snapshot.write();
        if self.generation.load(Ordering::Acquire) == before {
            *snapshot = Arc::new(fresh);
        }
        Ok(())
    }

    fn write(&self, change: impl FnOnce(&mut Snapshot)) {
        let mut snapshot = self.snapshot.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut next = Snapshot { tenants: snapshot.tenants.clone(), keys: snapshot.keys.clone() };
        change(&mut next);
        *snapshot = Arc::new(next);
    }

    pub fn put_tenant(&self, tenant: Tenant) {
        self.write(|s| {
            s.tenants.insert(tenant.id.clone(), tenant);
        });
    }

    pub fn remove_tenant(&self, id: &TenantId) {
        self.write(|s| {
            s.tenants.remove(id);
            s.keys.retain(|_, k| &k.tenant != id);
        });
    }

    pub fn put_key(&self, key: TenantKey) {
        self.write(|s| {
            s.keys.insert(key.id.clone(), key);
        });
    }

    pub fn tenant(&self, id: &TenantId) -> Option<Tenant> {
        self.snapshot.read().tenants.get(id).cloned()
    }

    /// Every tenant, ordered by id.
    pub fn tenants(&self) -> Vec<Tenant> {
        let mut list: Vec<Tenant> = self.snapshot.read().tenants.values().cloned().collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }

    /// The tenant's keys, oldest first.
    pub fn keys_of(&self, id: &TenantId) -> Vec<TenantKey> {
        let mut list: Vec<TenantKey> =
            self.snapshot.read().keys.values().filter(|k| &k.tenant == id).cloned().collect();
        list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        list
    }

    /// The tenant's own limits over its configured ones.
    pub fn effective_limits(&self, id: &TenantId) -> TenantLimits {
        let own = self.snapshot.read().tenants.get(id).map(|t| t.limits).unwrap_or_default();
        own.or((self.configured)(id))
    }
}

impl TenantDirectory for TenantCache {
    fn status(&self, tenant: &TenantId) -> Option<TenantStatus> {
        self.snapshot.read().tenants.get(tenant).map(|t| t.status)
    }

    fn limits(&self, tenant: &TenantId) -> TenantLimits {
        self.effective_limits(tenant)
    }

    fn token_keys(&self, tenant: &TenantId) -> Vec<TokenKey> {
        self.snapshot.read().tenants.get(tenant).map(|t| t.token_keys.clone()).unwrap_or_default()
    }

    fn tenant_of_key(&self, presented: &str, now: DateTime<Utc>) -> Option<TenantId> {
        let id = key_id_of(presented)?;
        let snapshot = self.snapshot.read().clone();
        let key = snapshot.keys.get(id)?;
        (key.matches(presented) && key.is_valid_at(now)).then(|| key.tenant.clone())
    }
}

//! The tenant use cases the Tenant API calls: create, change, suspend and activate, delete (closing
//! live connections when forced), and the tenant's API keys. Each writes the store first, then the
//! cache, so that it applies on this node as soon as it returns, to open connections included (they
//! read their limits from the cache on each check).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::TenantCache;
use crate::domain::tenant::{format_key, hash_key, stem_conflict};
use crate::domain::{Quoted, Tenant, TenantId, TenantKey, TenantLimits, TenantStatus, TokenKey};
use crate::ports::{BoxError, CloseReason, DynClock, DynTenantStore, TenantStoreError};
use crate::service::NotificationService;

/// What a create or an update sets; `None` leaves a field as it is (or at its default on create).
#[derive(Debug, Clone, Default)]
pub struct TenantChange {
    pub name: Option<String>,
    pub limits: Option<TenantLimits>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Replaces the tenant's token keys as a whole (`[]`: back to the server's keys).
    pub token_keys: Option<Vec<TokenKey>>,
}

/// Checks a tenant's token keys before they are stored (the app plugs in the token verifier's own
/// check, so a key that would not load is refused when it is set, not when a client connects).
pub type KeyCheck = Box<dyn Fn(&TenantId, &[TokenKey]) -> Result<(), String> + Send + Sync>;

/// A new key: `key` is shown once and never kept.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub key: String,
    pub stored: TenantKey,
}

/// What a tenant uses now: on the whole cluster in cluster mode, else on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantUsage {
    pub connections: usize,
    pub users: usize,
    pub channels: usize,
    pub messages_today: u64,
    pub messages_total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TenantManagerError {
    #[error("no tenant {}", Quoted(.0.as_str()))]
    NotFound(TenantId),
    #[error("no key {} in tenant {}", Quoted(.key), Quoted(.tenant.as_str()))]
    KeyNotFound { tenant: TenantId, key: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("tenant {} has {connections} live connection(s); pass force=true to delete it and close them", Quoted(.tenant.as_str()))]
    HasConnections { tenant: TenantId, connections: usize },
    #[error(transparent)]
    Store(#[from] TenantStoreError),
    #[error("cannot make a key")]
    Random(#[source] BoxError),
}

const MAX_NAME_CHARS: usize = 128;

pub struct TenantManager {
    store: DynTenantStore,
    cache: Arc<TenantCache>,
    service: Arc<NotificationService>,
    clock: DynClock,
    key_check: Option<KeyCheck>,
    /// Ids the settings name (`[tenant.overrides.<id>]`): no other tenant may take their stem.
    configured: Vec<TenantId>,
}

impl TenantManager {
    pub fn new(
        store: DynTenantStore,
        cache: Arc<TenantCache>,
        service: Arc<NotificationService>,
        clock: DynClock,
    ) -> Self {
        Self { store, cache, service, clock, key_check: None, configured: Vec::new() }
    }

    /// The tenant ids the settings configure limits for.
    pub fn with_configured_ids(mut self, ids: Vec<TenantId>) -> Self {
        self.configured = ids;
        self
    }

    pub fn with_key_check(mut self, check: KeyCheck) -> Self {
        self.key_check = Some(check);
        self
    }

    fn apply(&self, tenant: &mut Tenant, change: TenantChange) -> Result<(), TenantManagerError> {
        if let (Some(keys), Some(check)) = (&change.token_keys, &self.key_check) {
            check(&tenant.id, keys).map_err(|why| TenantManagerError::Invalid(format!("token_keys: {why}")))?;
        }
        apply(tenant, change)
    }

    /// Loads the cache and makes sure the tenant `default` exists (the `API_KEY` acts in it).
    pub async fn start(&self) -> Result<(), TenantManagerError> {
        self.refresh().await?;
        let mut ids: Vec<TenantId> = self.cache.tenants().into_iter().map(|t| t.id).collect();
        ids.extend(self.configured.iter().cloned());
        if let Some(conflict) = ids.iter().find_map(|id| stem_conflict(id, &ids)) {
            return Err(TenantManagerError::Conflict(conflict));
        }
        let default = TenantId::default_tenant();
        if self.cache.tenant(&default).is_none() {
            match self.store.create(&Tenant::new(default, self.clock.now())).await {
                Ok(()) | Err(TenantStoreError::Duplicate(_)) => self.refresh().await?,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Rereads the store (what other nodes changed). A tenant another node suspended or deleted has
    /// its connections on this node closed too.
    pub async fn refresh(&self) -> Result<(), TenantManagerError> {
        let before: Vec<(TenantId, TenantStatus)> =
            self.cache.tenants().into_iter().map(|t| (t.id, t.status)).collect();
        self.cache.refresh(&*self.store).await?;
        for (id, was) in before {
            let reason = match self.cache.tenant(&id).map(|t| t.status) {
                None => CloseReason::TenantDeleted,
                Some(TenantStatus::Suspended) if was == TenantStatus::Active => CloseReason::TenantSuspended,
                _ => continue,
            };
            let closed = self.service.close_tenant(&id, reason);
            if closed > 0 {
                tracing::info!(tenant = %id, closed, "closed the connections of a tenant another node suspended or deleted");
            }
        }
        Ok(())
    }

    pub fn list(&self) -> Vec<Tenant> {
        self.cache.tenants()
    }

    pub fn get(&self, id: &TenantId) -> Result<Tenant, TenantManagerError> {
        self.cache.tenant(id).ok_or_else(|| TenantManagerError::NotFound(id.clone()))
    }

    pub fn effective_limits(&self, id: &TenantId) -> TenantLimits {
        self.cache.effective_limits(id)
    }

    pub async fn usage(&self, id: &TenantId) -> TenantUsage {
        let usages = self.service.tenant_usages(std::slice::from_ref(id)).await;
        usages.into_iter().next().unwrap_or_else(|| self.service.local_tenant_usage(id))
    }

    /// [`Self::usage`] of several tenants, with one question to presence.
    pub async fn usages(&self, ids: &[TenantId]) -> Vec<TenantUsage> {
        self.service.tenant_usages(ids).await
    }

    pub async fn create(&self, id: TenantId, change: TenantChange) -> Result<Tenant, TenantManagerError> {
        let mut others: Vec<TenantId> = self.cache.tenants().into_iter().map(|t| t.id).collect();
        others.extend(self.configured.iter().cloned());
        if let Some(conflict) = stem_conflict(&id, &others) {
            return Err(TenantManagerError::Conflict(conflict));
        }
        let mut tenant = Tenant::new(id, self.clock.now());
        self.apply(&mut tenant, change)?;
        self.store.create(&tenant).await.map_err(|e| match e {
            TenantStoreError::Duplicate(what) => TenantManagerError::Conflict(format!("{what} already exists")),
            e => e.into(),
        })?;
        self.cache.put_tenant(tenant.clone());
        Ok(tenant)
    }

    pub async fn update(&self, id: &TenantId, change: TenantChange) -> Result<Tenant, TenantManagerError> {
        let mut tenant = self.get(id)?;
        self.apply(&mut tenant, change)?;
        self.save(tenant).await
    }

    /// Suspending closes the tenant's live connections (close code 4403 on WebSocket).
    pub async fn set_status(&self, id: &TenantId, status: TenantStatus) -> Result<Tenant, TenantManagerError> {
        let mut tenant = self.get(id)?;
        tenant.status = status;
        let tenant = self.save(tenant).await?;
        if status == TenantStatus::Suspended {
            let closed = self.service.close_tenant(id, CloseReason::TenantSuspended);
            tracing::info!(tenant = %id, closed, "tenant suspended");
        }
        Ok(tenant)
    }

    /// Deletes the tenant and its keys. With live connections it needs `force`, and closes them.
    pub async fn delete(&self, id: &TenantId, force: bool) -> Result<usize, TenantManagerError> {
        if id.as_str() == TenantId::DEFAULT {
            return Err(TenantManagerError::Conflict(
                "the tenant `default` cannot be deleted: API_KEY acts in it".into(),
            ));
        }
        self.get(id)?;
        let connections = self.usage(id).await.connections;
        if connections > 0 && !force {
            return Err(TenantManagerError::HasConnections { tenant: id.clone(), connections });
        }
        self.store.delete(id).await.map_err(|e| not_found(e, id))?;
        self.cache.remove_tenant(id);
        let closed = self.service.close_tenant(id, CloseReason::TenantDeleted);
        self.service.forget_tenant(id);
        self.delete_templates(id).await;
        // Best effort like the templates: the tenant is gone already. Pending ACKs of its
        // notifications are not redelivered (see `expire_acks`) and run out by their deadline.
        match self.service.purge_tenant_queues(id).await {
            Ok(dropped) => tracing::info!(tenant = %id, dropped, "a deleted tenant's offline queues were dropped"),
            Err(e) => tracing::warn!(tenant = %id, error = %crate::domain::ErrorChain(&e),
                "a deleted tenant's offline queues were not dropped; they run out by their ttl"),
        }
        Ok(closed)
    }

    /// A tenant made again under the same id starts without the old one's templates. Best effort: the
    /// tenant is gone already, a template left behind is logged.
    async fn delete_templates(&self, id: &TenantId) {
        let templates = self.service.templates();
        if templates.namespace(id) != *id {
            return;
        }
        match templates.list(id).await {
            Ok(list) => {
                for template in list {
                    if let Err(e) = templates.delete(id, &template.id).await {
                        tracing::warn!(tenant = %id, template = %template.id, error = %crate::domain::ErrorChain(&e),
                            "a deleted tenant's template was not deleted");
                    }
                }
            }
            Err(e) => tracing::warn!(tenant = %id, error = %crate::domain::ErrorChain(&e),
                "a deleted tenant's templates were not deleted"),
        }
    }

    pub fn keys(&self, id: &TenantId) -> Result<Vec<TenantKey>, TenantManagerError> {
        self.get(id)?;
        Ok(self.cache.keys_of(id))
    }

    pub async fn create_key(&self, id: &TenantId) -> Result<CreatedKey, TenantManagerError> {
        self.get(id)?;
        let (mut id_bytes, mut secret) = ([0u8; 8], [0u8; 32]);
        getrandom::fill(&mut id_bytes).map_err(|e| TenantManagerError::Random(Box::new(e)))?;
        getrandom::fill(&mut secret).map_err(|e| TenantManagerError::Random(Box::new(e)))?;
        let (key, key_id) = format_key(&id_bytes, &secret);
        let stored = TenantKey {
            id: key_id,
            tenant: id.clone(),
            hash: hash_key(&key),
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.add_key(&stored).await.map_err(|e| not_found(e, id))?;
        self.cache.put_key(stored.clone());
        Ok(CreatedKey { key, stored })
    }

    /// A new key, and the old one stops working after `grace` (0: at once), so callers can switch
    /// without downtime.
    pub async fn rotate_key(
        &self,
        id: &TenantId,
        key_id: &str,
        grace: Duration,
    ) -> Result<CreatedKey, TenantManagerError> {
        let old = self.key(id, key_id)?;
        let created = self.create_key(id).await?;
        let until = self.clock.now() + chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
        let until = old.revoked_at.map_or(until, |at| at.min(until));
        self.revoke_at(id, key_id, until).await?;
        Ok(created)
    }

    pub async fn revoke_key(&self, id: &TenantId, key_id: &str) -> Result<TenantKey, TenantManagerError> {
        self.key(id, key_id)?;
        self.revoke_at(id, key_id, self.clock.now()).await
    }

    fn key(&self, id: &TenantId, key_id: &str) -> Result<TenantKey, TenantManagerError> {
        self.keys(id)?
            .into_iter()
            .find(|k| k.id == key_id)
            .ok_or_else(|| TenantManagerError::KeyNotFound { tenant: id.clone(), key: key_id.to_owned() })
    }

    async fn revoke_at(&self, id: &TenantId, key_id: &str, at: DateTime<Utc>) -> Result<TenantKey, TenantManagerError> {
        let mut key = self.key(id, key_id)?;
        self.store.revoke_key(id, key_id, at).await.map_err(|e| match e {
            TenantStoreError::NotFound(_) => TenantManagerError::KeyNotFound { tenant: id.clone(), key: key_id.into() },
            e => e.into(),
        })?;
        key.revoked_at = Some(at);
        self.cache.put_key(key.clone());
        Ok(key)
    }

    async fn save(&self, mut tenant: Tenant) -> Result<Tenant, TenantManagerError> {
        tenant.updated_at = self.clock.now();
        let id = tenant.id.clone();
        self.store.update(&tenant).await.map_err(|e| not_found(e, &id))?;
        self.cache.put_tenant(tenant.clone());
        Ok(tenant)
    }
}

fn not_found(e: TenantStoreError, id: &TenantId) -> TenantManagerError {
    match e {
        TenantStoreError::NotFound(_) => TenantManagerError::NotFound(id.clone()),
        e => e.into(),
    }
}

fn apply(tenant: &mut Tenant, change: TenantChange) -> Result<(), TenantManagerError> {
    if let Some(name) = change.name {
        if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(TenantManagerError::Invalid(format!(
                "name must be 1-{MAX_NAME_CHARS} characters without control characters"
            )));
        }
        tenant.name = name;
    }
    if let Some(limits) = change.limits {
        if let Some(field) = limits.zero_field() {
            return Err(TenantManagerError::Invalid(format!(
                "limits.{field} must be greater than 0 (suspend a tenant to stop it)"
            )));
        }
        tenant.limits = limits;
    }
    if let Some(metadata) = change.metadata {
        tenant.metadata = metadata;
    }
    if let Some(keys) = change.token_keys {
        tenant.token_keys = keys;
    }
    Ok(())
}

//! Postgres tenant store: `tenants` and `tenant_keys` (deleted with their tenant), shared by every
//! node; each node reads them through its cache.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::domain::{Quoted, Tenant, TenantId, TenantKey, TenantLimits, TenantStatus};
use crate::ports::{Garbled, TenantStore, TenantStoreError};

const COLUMNS: &str =
    "tenant_id, name, status, limits::text AS limits, metadata::text AS metadata, token_keys::text AS token_keys, created_at, updated_at";

#[derive(Debug, Clone)]
pub struct PostgresTenantStore {
    pool: PgPool,
}

impl PostgresTenantStore {
    /// Takes a pool from [`super::connect`], whose migrations created the tables.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn store_error(e: sqlx::Error) -> TenantStoreError {
    match super::classify(e) {
        super::Failure::Unavailable(e) => TenantStoreError::Unavailable(Box::new(e)),
        super::Failure::Corrupt(e) => TenantStoreError::Corrupt(Box::new(e)),
        super::Failure::Unexpected(e) => TenantStoreError::Unexpected(Box::new(e)),
    }
}

fn corrupt(what: String) -> TenantStoreError {
    TenantStoreError::Corrupt(Box::new(Garbled(what)))
}

fn json_text<T: serde::Serialize>(value: &T) -> Result<String, TenantStoreError> {
    serde_json::to_string(value).map_err(|e| TenantStoreError::Unexpected(Box::new(e)))
}

fn tenant_from_row(row: &PgRow) -> Result<Tenant, TenantStoreError> {
    let raw: String = row.try_get("tenant_id").map_err(store_error)?;
    let id = TenantId::parse(&raw).map_err(|e| corrupt(format!("tenant_id: {e}")))?;
    let status: String = row.try_get("status").map_err(store_error)?;
    let status = TenantStatus::parse(&status).ok_or_else(|| corrupt(format!("status {} of {id}", Quoted(&status))))?;
    let limits: String = row.try_get("limits").map_err(store_error)?;
    let limits: TenantLimits = serde_json::from_str(&limits).map_err(|e| corrupt(format!("limits of {id}: {e}")))?;
    let metadata: String = row.try_get("metadata").map_err(store_error)?;
    let metadata = serde_json::from_str(&metadata).map_err(|e| corrupt(format!("metadata of {id}: {e}")))?;
    let token_keys: String = row.try_get("token_keys").map_err(store_error)?;
    let token_keys = serde_json::from_str(&token_keys).map_err(|e| corrupt(format!("token_keys of {id}: {e}")))?;
    Ok(Tenant {
        token_keys,
        name: row.try_get("name").map_err(store_error)?,
        status,
        limits,
        metadata,
        created_at: row.try_get("created_at").map_err(store_error)?,
        updated_at: row.try_get("updated_at").map_err(store_error)?,
        id,
    })
}

fn key_from_row(row: &PgRow) -> Result<TenantKey, TenantStoreError> {
    let id: String = row.try_get("key_id").map_err(store_error)?;
    let tenant: String = row.try_get("tenant_id").map_err(store_error)?;
    let tenant = TenantId::parse(&tenant).map_err(|e| corrupt(format!("tenant_id of key {id}: {e}")))?;
    let hash: Vec<u8> = row.try_get("key_hash").map_err(store_error)?;
    let hash: [u8; 32] = hash.try_into().map_err(|_| corrupt(format!("key_hash of key {id} is not 32 bytes")))?;
    Ok(TenantKey {
        tenant,
        hash,
        created_at: row.try_get("created_at").map_err(store_error)?,
        revoked_at: row.try_get("revoked_at").map_err(store_error)?,
        id,
    })
}

#[async_trait]
impl TenantStore for PostgresTenantStore {
    async fn create(&self, tenant: &Tenant) -> Result<(), TenantStoreError> {
        let done = sqlx::query(
            "INSERT INTO tenants (tenant_id, name, status, limits, metadata, created_at, updated_at, token_keys) \
             VALUES ($1, $2, $3, $4::json, $5::json, $6, $7, $8::json) ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(tenant.id.as_str())
        .bind(&tenant.name)
        .bind(tenant.status.as_str())
        .bind(json_text(&tenant.limits)?)
        .bind(json_text(&tenant.metadata)?)
        .bind(tenant.created_at)
        .bind(tenant.updated_at)
        .bind(json_text(&tenant.token_keys)?)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(TenantStoreError::Duplicate(format!("tenant {}", Quoted(tenant.id.as_str()))));
        }
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Tenant>, TenantStoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants ORDER BY tenant_id"))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter().map(tenant_from_row).collect()
    }

    async fn update(&self, tenant: &Tenant) -> Result<(), TenantStoreError> {
        let done = sqlx::query(
            "UPDATE tenants SET name = $2, status = $3, limits = $4::json, metadata = $5::json, updated_at = $6, \
                 token_keys = $7::json \
             WHERE tenant_id = $1",
        )
        .bind(tenant.id.as_str())
        .bind(&tenant.name)
        .bind(tenant.status.as_str())
        .bind(json_text(&tenant.limits)?)
        .bind(json_text(&tenant.metadata)?)
        .bind(tenant.updated_at)
        .bind(json_text(&tenant.token_keys)?)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(TenantStoreError::tenant_not_found(&tenant.id));
        }
        Ok(())
    }

    async fn delete(&self, id: &TenantId) -> Result<(), TenantStoreError> {
        // The keys go with it (ON DELETE CASCADE), in the same statement.
        let done = sqlx::query("DELETE FROM tenants WHERE tenant_id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(TenantStoreError::tenant_not_found(id));
        }
        Ok(())
    }

    async fn add_key(&self, key: &TenantKey) -> Result<(), TenantStoreError> {
        // Inserting through a SELECT of the tenant tells a missing tenant (no row) from a taken key id
        // (the conflict) without a race between two statements.
        let done = sqlx::query(
            "INSERT INTO tenant_keys (key_id, tenant_id, key_hash, created_at, revoked_at) \
             SELECT $1, tenant_id, $3, $4, $5 FROM tenants WHERE tenant_id = $2 \
             ON CONFLICT (key_id) DO NOTHING RETURNING key_id",
        )
        .bind(&key.id)
        .bind(key.tenant.as_str())
        .bind(key.hash.as_slice())
        .bind(key.created_at)
        .bind(key.revoked_at)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        if done.is_some() {
            return Ok(());
        }
        let tenant_exists = sqlx::query("SELECT 1 FROM tenants WHERE tenant_id = $1")
            .bind(key.tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?
            .is_some();
        if tenant_exists {
            Err(TenantStoreError::Duplicate(format!("key {}", Quoted(&key.id))))
        } else {
            Err(TenantStoreError::tenant_not_found(&key.tenant))
        }
    }

    async fn keys(&self) -> Result<Vec<TenantKey>, TenantStoreError> {
        let rows = sqlx::query(
            "SELECT key_id, tenant_id, key_hash, created_at, revoked_at FROM tenant_keys \
             ORDER BY tenant_id, created_at, key_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_key(&self, tenant: &TenantId, key_id: &str, at: DateTime<Utc>) -> Result<(), TenantStoreError> {
        let done = sqlx::query("UPDATE tenant_keys SET revoked_at = $3 WHERE tenant_id = $1 AND key_id = $2")
            .bind(tenant.as_str())
            .bind(key_id)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(TenantStoreError::NotFound(format!("key {}", Quoted(key_id))));
        }
        Ok(())
    }

    async fn check_health(&self) -> Result<(), TenantStoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(store_error)?;
        Ok(())
    }
}

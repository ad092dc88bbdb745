//! Postgres template store: one row per (tenant, template id) in `templates`, so templates survive
//! restarts and are shared by every node.
//!
//! The payload template travels as JSON text (`$n::json`, `payload_template::text`): it is stored as
//! serialized and read back with the same parser, whatever it holds.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::domain::{Priority, Quoted, Template, TemplateId, TemplateSpec, TenantId};
use crate::ports::{TemplateStore, TemplateStoreError};

const COLUMNS: &str =
    "template_id, name, event_type, payload_template::text AS payload_template, priority, ttl_seconds, created_at, updated_at";

#[derive(Debug, Clone)]
pub struct PostgresTemplateStore {
    pool: PgPool,
}

impl PostgresTemplateStore {
    /// Takes a pool from [`super::connect`], whose migrations created the table.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn store_error(e: sqlx::Error) -> TemplateStoreError {
    match super::classify(e) {
        super::Failure::Unavailable(e) => TemplateStoreError::Unavailable(Box::new(e)),
        super::Failure::Corrupt(e) => TemplateStoreError::Corrupt(Box::new(e)),
        super::Failure::Unexpected(e) => TemplateStoreError::Unexpected(Box::new(e)),
    }
}

fn corrupt(what: String) -> TemplateStoreError {
    TemplateStoreError::Corrupt(Box::new(crate::ports::Garbled(what)))
}

fn encode(spec: &TemplateSpec) -> Result<String, TemplateStoreError> {
    serde_json::to_string(&spec.payload_template).map_err(|e| TemplateStoreError::Unexpected(Box::new(e)))
}

fn ttl_column(spec: &TemplateSpec) -> Option<i32> {
    // Validated specs keep the ttl under a week, far inside i32.
    spec.ttl_seconds.map(|ttl| i32::try_from(ttl).unwrap_or(i32::MAX))
}

fn from_row(row: &PgRow) -> Result<Template, TemplateStoreError> {
    let id: String = row.try_get("template_id").map_err(store_error)?;
    let id = TemplateId::parse(&id).map_err(|e| TemplateStoreError::Unexpected(Box::new(e)))?;
    let payload: String = row.try_get("payload_template").map_err(store_error)?;
    let payload_template =
        serde_json::from_str(&payload).map_err(|e| corrupt(format!("payload_template of {id}: {e}")))?;
    let priority = match row.try_get::<Option<String>, _>("priority").map_err(store_error)? {
        None => None,
        Some(p) => Some(
            serde_json::from_value::<Priority>(serde_json::Value::String(p.clone()))
                .map_err(|_| corrupt(format!("priority {} of {}", Quoted(&p), Quoted(id.as_str()))))?,
        ),
    };
    let ttl_seconds = match row.try_get::<Option<i32>, _>("ttl_seconds").map_err(store_error)? {
        None => None,
        Some(ttl) => Some(u32::try_from(ttl).map_err(|_| corrupt(format!("ttl_seconds {ttl} of {id}")))?),
    };
    Ok(Template {
        spec: TemplateSpec {
            name: row.try_get("name").map_err(store_error)?,
            event_type: row.try_get("event_type").map_err(store_error)?,
            payload_template,
            priority,
            ttl_seconds,
        },
        id,
        created_at: row.try_get("created_at").map_err(store_error)?,
        updated_at: row.try_get("updated_at").map_err(store_error)?,
    })
}

#[async_trait]
impl TemplateStore for PostgresTemplateStore {
    async fn create(&self, tenant: &TenantId, template: &Template) -> Result<(), TemplateStoreError> {
        let spec = &template.spec;
        let done = sqlx::query(
            "INSERT INTO templates (tenant_id, template_id, name, event_type, payload_template, priority, \
                 ttl_seconds, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5::json, $6, $7, $8, $9) \
             ON CONFLICT (tenant_id, template_id) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(template.id.as_str())
        .bind(&spec.name)
        .bind(&spec.event_type)
        .bind(encode(spec)?)
        .bind(spec.priority.map(Priority::as_str))
        .bind(ttl_column(spec))
        .bind(template.created_at)
        .bind(template.updated_at)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(TemplateStoreError::Duplicate(template.id.clone()));
        }
        Ok(())
    }

    async fn get(&self, tenant: &TenantId, id: &TemplateId) -> Result<Option<Template>, TemplateStoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM templates WHERE tenant_id = $1 AND template_id = $2"))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(from_row).transpose()
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<Template>, TemplateStoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM templates WHERE tenant_id = $1 ORDER BY template_id"))
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter().map(from_row).collect()
    }

    async fn update(
        &self,
        tenant: &TenantId,
        id: &TemplateId,
        spec: &TemplateSpec,
        updated_at: DateTime<Utc>,
    ) -> Result<Template, TemplateStoreError> {
        let row = sqlx::query(&format!(
            "UPDATE templates SET name = $3, event_type = $4, payload_template = $5::json, priority = $6, \
                 ttl_seconds = $7, updated_at = $8 \
             WHERE tenant_id = $1 AND template_id = $2 \
             RETURNING {COLUMNS}"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(&spec.name)
        .bind(&spec.event_type)
        .bind(encode(spec)?)
        .bind(spec.priority.map(Priority::as_str))
        .bind(ttl_column(spec))
        .bind(updated_at)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        match row {
            Some(row) => from_row(&row),
            None => Err(TemplateStoreError::NotFound(id.clone())),
        }
    }

    async fn delete(&self, tenant: &TenantId, id: &TemplateId) -> Result<(), TemplateStoreError> {
        let done = sqlx::query("DELETE FROM templates WHERE tenant_id = $1 AND template_id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(TemplateStoreError::NotFound(id.clone()));
        }
        Ok(())
    }

    async fn check_health(&self) -> Result<(), TemplateStoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(store_error)?;
        Ok(())
    }
}

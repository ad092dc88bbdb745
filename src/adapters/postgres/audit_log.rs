//! The audit log in Postgres: one row per action in `audit_log`, numbered by its `BIGSERIAL` id.

use async_trait::async_trait;
use sqlx::{PgPool, Row};

use crate::domain::audit::{AuditEvent, AuditRecord};
use crate::domain::TenantId;
use crate::ports::{AuditError, AuditLog};

pub struct PostgresAuditLog {
    pool: PgPool,
}

impl PostgresAuditLog {
    /// Takes a pool from [`super::connect`], whose migrations created the table.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn audit_error(e: sqlx::Error) -> AuditError {
    match super::classify(e) {
        super::Failure::Unavailable(e) => AuditError::Unavailable(Box::new(e)),
        super::Failure::Corrupt(e) | super::Failure::Unexpected(e) => AuditError::Unexpected(Box::new(e)),
    }
}

#[async_trait]
impl AuditLog for PostgresAuditLog {
    async fn record(&self, r: &AuditRecord) -> Result<i64, AuditError> {
        let row = sqlx::query(
            "INSERT INTO audit_log (at, actor, tenant_id, action, target, details, source_ip, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(r.at)
        .bind(&r.actor)
        .bind(r.tenant.as_str())
        .bind(&r.action)
        .bind(&r.target)
        .bind(&r.details)
        .bind(&r.source_ip)
        .bind(&r.request_id)
        .fetch_one(&self.pool)
        .await
        .map_err(audit_error)?;
        row.try_get("id").map_err(audit_error)
    }

    async fn list(
        &self,
        tenant: Option<&TenantId>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, AuditError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, tenant_id, action, target, details, source_ip, request_id FROM audit_log
             WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2::bigint IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(tenant.map(TenantId::as_str))
        .bind(before)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(audit_error)?;
        rows.iter()
            .map(|row| {
                let tenant: String = row.try_get("tenant_id").map_err(audit_error)?;
                Ok(AuditEvent {
                    id: row.try_get("id").map_err(audit_error)?,
                    record: AuditRecord {
                        at: row.try_get("at").map_err(audit_error)?,
                        actor: row.try_get("actor").map_err(audit_error)?,
                        tenant: TenantId::parse(&tenant).map_err(|e| AuditError::Unexpected(Box::new(e)))?,
                        action: row.try_get("action").map_err(audit_error)?,
                        target: row.try_get("target").map_err(audit_error)?,
                        details: row.try_get("details").map_err(audit_error)?,
                        source_ip: row.try_get("source_ip").map_err(audit_error)?,
                        request_id: row.try_get("request_id").map_err(audit_error)?,
                    },
                })
            })
            .collect()
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

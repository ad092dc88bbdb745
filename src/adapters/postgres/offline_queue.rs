//! Postgres offline queue: one row per queued notification in `offline_queue`, replayed by `seq`. The
//! body is the notification's client frame, as it was written when the notification was accepted.
//!
//! Enqueue and its overflow trim run in one call of `offline_queue_push` (see the migration), which
//! serializes enqueues per user; peek is one indexed query.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::domain::queue::{QueueStats, QueuedNotification};
use crate::domain::{Notification, TenantId, UserKey};
use crate::ports::{OfflineQueue, QueueError};

#[derive(Debug, Clone)]
pub struct PostgresOfflineQueue {
    pool: PgPool,
}

impl PostgresOfflineQueue {
    /// Takes a pool from [`super::connect`], whose migrations created the table.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn unavailable(e: sqlx::Error) -> QueueError {
    match super::classify(e) {
        super::Failure::Unavailable(e) => QueueError::Unavailable(Box::new(e)),
        super::Failure::Corrupt(e) => QueueError::Corrupt(Box::new(e)),
        super::Failure::Unexpected(e) => QueueError::Unexpected(Box::new(e)),
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl OfflineQueue for PostgresOfflineQueue {
    async fn enqueue(&self, user: &UserKey, item: &QueuedNotification, max_per_user: usize) -> Result<u64, QueueError> {
        // The client's frame, sent as text and cast to `json`, which keeps it verbatim (see the migration).
        let body = std::str::from_utf8(item.notification.frame())
            .map_err(|e| QueueError::corrupt(format!("notification frame: {e}")))?;
        let dropped: i64 = sqlx::query_scalar("SELECT offline_queue_push($1, $2, $3, $4::json, $5, $6, $7)")
            .bind(user.tenant.as_str())
            .bind(user.user.as_str())
            .bind(item.notification.id)
            .bind(body)
            .bind(item.enqueued_at)
            .bind(item.expires_at)
            .bind(to_i64(max_per_user))
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(dropped.max(0) as u64)
    }

    async fn peek(
        &self,
        user: &UserKey,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedNotification>, QueueError> {
        let rows = sqlx::query(
            "SELECT body::text AS body, enqueued_at, expires_at FROM offline_queue \
             WHERE tenant_id = $1 AND user_id = $2 AND expires_at > $3 \
             ORDER BY seq LIMIT $4",
        )
        .bind(user.tenant.as_str())
        .bind(user.user.as_str())
        .bind(now)
        .bind(to_i64(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                let body: String = row.try_get("body").map_err(unavailable)?;
                let notification = Notification::decode(user.tenant.clone(), Bytes::from(body))
                    .map_err(|e| QueueError::corrupt(format!("queued notification: {e}")))?;
                Ok(QueuedNotification {
                    notification: Arc::new(notification),
                    enqueued_at: row.try_get("enqueued_at").map_err(unavailable)?,
                    expires_at: row.try_get("expires_at").map_err(unavailable)?,
                })
            })
            .collect()
    }

    async fn remove(&self, user: &UserKey, ids: &[Uuid]) -> Result<u64, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let done = sqlx::query(
            "DELETE FROM offline_queue \
             WHERE tenant_id = $1 AND user_id = $2 AND notification_id = ANY($3)",
        )
        .bind(user.tenant.as_str())
        .bind(user.user.as_str())
        .bind(ids)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected())
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, QueueError> {
        let done = sqlx::query("DELETE FROM offline_queue WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected())
    }

    async fn purge_tenant(&self, tenant: &TenantId) -> Result<u64, QueueError> {
        let done = sqlx::query("DELETE FROM offline_queue WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected())
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let (queued, users): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(DISTINCT (tenant_id, user_id)) FROM offline_queue")
                .fetch_one(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(QueueStats { queued_messages: queued.max(0) as u64, users_with_queue: users.max(0) as u64 })
    }

    async fn check_health(&self) -> Result<(), QueueError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(unavailable)?;
        Ok(())
    }
}

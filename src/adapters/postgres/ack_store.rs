//! Postgres ACK store: one row per (notification id, tenant, user) in `ack_records` with a status,
//! and lifetime counters in `ack_counters`. The notification is kept only while the row is pending:
//! acknowledging or expiring it clears the column.
//!
//! A successful ACK is one statement (update the record, bump a counter); only a failed ACK pays a
//! second query to say precisely why. Row locks taken by the UPDATE make a double ACK from two
//! devices succeed once.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::domain::ack::{AckReceipt, AckStats, ExpiredAck, PendingAck};
use crate::domain::{Notification, Quoted, TenantId, UserId, UserKey};
use crate::ports::{AckError, AckStore};

/// Acknowledged and expired rows stay at least this long after the deadline (or one more ACK
/// timeout, if longer), so that a double or late ACK gets a precise error; same rule as in memory.
const MIN_MARKER_RETENTION: Duration = Duration::minutes(10);
/// Rows moved per `expire_due` statement, so that one sweep never holds many locks at once.
const EXPIRE_BATCH: i64 = 500;
/// Must match the number of rows seeded into `ack_counters`.
const COUNTER_SLOTS: u128 = 16;

#[derive(Debug, Clone)]
pub struct PostgresAckStore {
    pool: PgPool,
}

impl PostgresAckStore {
    /// Takes a pool from [`super::connect`], whose migrations created the tables.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn unavailable(e: sqlx::Error) -> AckError {
    match super::classify(e) {
        super::Failure::Unavailable(e) => AckError::Unavailable(Box::new(e)),
        super::Failure::Corrupt(e) => AckError::Corrupt(Box::new(e)),
        super::Failure::Unexpected(e) => AckError::Unexpected(Box::new(e)),
    }
}

fn expired_from_row(row: &PgRow) -> Result<ExpiredAck, AckError> {
    let tenant: String = row.try_get("tenant_id").map_err(unavailable)?;
    let user: String = row.try_get("user_id").map_err(unavailable)?;
    let corrupt = || AckError::corrupt(format!("unreadable ACK owner {}/{}", Quoted(&tenant), Quoted(&user)));
    let user =
        UserKey::new(TenantId::parse(&tenant).map_err(|_| corrupt())?, UserId::parse(&user).map_err(|_| corrupt())?);
    let frame: String = row.try_get("notification").map_err(unavailable)?;
    let notification = Notification::decode(user.tenant.clone(), Bytes::from(frame))
        .map_err(|e| AckError::corrupt(format!("tracked notification: {e}")))?;
    Ok(ExpiredAck {
        user,
        pending: PendingAck {
            notification: Arc::new(notification),
            delivered_at: row.try_get("delivered_at").map_err(unavailable)?,
            deadline: row.try_get("deadline").map_err(unavailable)?,
        },
    })
}

/// The frame as text: `json` keeps it verbatim (see the migration).
fn frame_text(notification: &Notification) -> Result<&str, AckError> {
    std::str::from_utf8(notification.frame()).map_err(|e| AckError::corrupt(format!("notification frame: {e}")))
}

#[async_trait]
impl AckStore for PostgresAckStore {
    async fn track(&self, pending: &PendingAck, users: &[UserKey]) -> Result<(), AckError> {
        if users.is_empty() {
            return Ok(());
        }
        let timeout = pending.deadline - pending.delivered_at;
        let retain_until = pending.deadline + timeout.max(MIN_MARKER_RETENTION);
        let tenants: Vec<&str> = users.iter().map(|u| u.tenant.as_str()).collect();
        let holders: Vec<&str> = users.iter().map(|u| u.user.as_str()).collect();
        // One statement for the whole send. A second device keeps the first record; only an expired
        // record is re-armed (a redelivery).
        sqlx::query(
            "INSERT INTO ack_records \
                 (notification_id, tenant_id, user_id, status, notification, delivered_at, deadline, retain_until) \
             SELECT $1, t, u, 'pending', $4::json, $5, $6, $7 FROM unnest($2::text[], $3::text[]) AS h(t, u) \
             ON CONFLICT (notification_id, tenant_id, user_id) DO UPDATE SET \
                 status = 'pending', notification = EXCLUDED.notification, \
                 delivered_at = EXCLUDED.delivered_at, deadline = EXCLUDED.deadline, \
                 finished_at = NULL, retain_until = EXCLUDED.retain_until \
             WHERE ack_records.status = 'expired'",
        )
        .bind(pending.notification.id)
        .bind(&tenants)
        .bind(&holders)
        .bind(frame_text(&pending.notification)?)
        .bind(pending.delivered_at)
        .bind(pending.deadline)
        .bind(retain_until)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn forget(&self, id: Uuid, users: &[UserKey]) -> Result<(), AckError> {
        if users.is_empty() {
            return Ok(());
        }
        let tenants: Vec<&str> = users.iter().map(|u| u.tenant.as_str()).collect();
        let holders: Vec<&str> = users.iter().map(|u| u.user.as_str()).collect();
        sqlx::query(
            "DELETE FROM ack_records r USING unnest($2::text[], $3::text[]) AS h(t, u) \
             WHERE r.notification_id = $1 AND r.tenant_id = h.t AND r.user_id = h.u AND r.status = 'pending'",
        )
        .bind(id)
        .bind(&tenants)
        .bind(&holders)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn ack(&self, user: &UserKey, id: Uuid, now: DateTime<Utc>) -> Result<AckReceipt, AckError> {
        let slot = (id.as_u128() % COUNTER_SLOTS) as i16;
        let latency: Option<i64> = sqlx::query_scalar(
            "WITH acked AS ( \
                 UPDATE ack_records SET status = 'acknowledged', finished_at = $4, notification = NULL \
                 WHERE notification_id = $1 AND tenant_id = $2 AND user_id = $3 \
                   AND status = 'pending' AND deadline > $4 \
                 RETURNING GREATEST(0, floor(extract(epoch FROM ($4 - delivered_at)) * 1000))::bigint \
                     AS latency_ms \
             ), counted AS ( \
                 UPDATE ack_counters SET acknowledged = acknowledged + 1, \
                     ack_time_ms_total = ack_time_ms_total + acked.latency_ms \
                 FROM acked WHERE slot = $5 \
             ) \
             SELECT latency_ms FROM acked",
        )
        .bind(id)
        .bind(user.tenant.as_str())
        .bind(user.user.as_str())
        .bind(now)
        .bind(slot)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        if let Some(latency) = latency {
            return Ok(AckReceipt { notification_id: id, latency_ms: latency.max(0) as u64 });
        }
        // Nothing changed; find out why.
        let (own, known): (Option<String>, bool) = sqlx::query_as(
            "SELECT (SELECT status FROM ack_records \
                     WHERE notification_id = $1 AND tenant_id = $2 AND user_id = $3), \
                    EXISTS (SELECT 1 FROM ack_records WHERE notification_id = $1)",
        )
        .bind(id)
        .bind(user.tenant.as_str())
        .bind(user.user.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        Err(match own.as_deref() {
            Some("acknowledged") => AckError::AlreadyAcknowledged,
            // Still pending means its deadline passed before expire_due got to it.
            Some("expired") | Some("pending") => AckError::Expired,
            Some(other) => AckError::corrupt(format!("unknown ACK status {other:?}")),
            None if known => AckError::WrongUser,
            None => AckError::UnknownNotification,
        })
    }

    async fn expire_due(&self, now: DateTime<Utc>) -> Result<Vec<ExpiredAck>, AckError> {
        let mut expired = Vec::new();
        loop {
            // SKIP LOCKED lets two nodes sweep at once without waiting on each other or on ACKs.
            let rows = sqlx::query(
                "WITH due AS ( \
                     SELECT notification_id, tenant_id, user_id, notification FROM ack_records \
                     WHERE status = 'pending' AND deadline <= $1 \
                     ORDER BY deadline LIMIT $2 FOR UPDATE SKIP LOCKED \
                 ), moved AS ( \
                     UPDATE ack_records r SET status = 'expired', finished_at = $1, notification = NULL \
                     FROM due \
                     WHERE r.notification_id = due.notification_id AND r.tenant_id = due.tenant_id \
                       AND r.user_id = due.user_id AND r.status = 'pending' \
                     RETURNING r.tenant_id, r.user_id, due.notification::text AS notification, \
                         r.delivered_at, r.deadline \
                 ), counted AS ( \
                     UPDATE ack_counters SET expired = expired + (SELECT count(*) FROM moved) \
                     WHERE slot = 0 AND EXISTS (SELECT 1 FROM moved) \
                 ) \
                 SELECT * FROM moved",
            )
            .bind(now)
            .bind(EXPIRE_BATCH)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
            let batch = rows.len() as i64;
            for row in &rows {
                expired.push(expired_from_row(row)?);
            }
            if batch < EXPIRE_BATCH {
                break;
            }
        }
        sqlx::query("DELETE FROM ack_records WHERE status <> 'pending' AND retain_until <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(expired)
    }

    async fn stats(&self) -> Result<AckStats, AckError> {
        let (pending, acknowledged, expired, total_ms): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM ack_records WHERE status = 'pending'), \
                    COALESCE(sum(acknowledged), 0)::bigint, COALESCE(sum(expired), 0)::bigint, \
                    COALESCE(sum(ack_time_ms_total), 0)::bigint \
             FROM ack_counters",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        let acknowledged = acknowledged.max(0) as u64;
        Ok(AckStats {
            pending: pending.max(0) as u64,
            acknowledged,
            expired: expired.max(0) as u64,
            average_ack_time_ms: if acknowledged == 0 { 0.0 } else { total_ms as f64 / acknowledged as f64 },
        })
    }

    async fn check_health(&self) -> Result<(), AckError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(unavailable)?;
        Ok(())
    }
}

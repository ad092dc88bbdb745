//! ACK rules: which delivered notifications await a client's acknowledgement, and what an ACK may do.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Notification, Priority, UserKey};

/// A delivered notification awaiting its user's ACK; the notification is shared, not copied, by
/// every user's record of one send.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAck {
    pub notification: Arc<Notification>,
    pub delivered_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
}

impl PendingAck {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.deadline <= now
    }

    /// High and Critical notifications are redelivered when `ACK_REDELIVER` is on.
    pub fn wants_redelivery(&self) -> bool {
        self.notification.priority >= Priority::High
    }
}

/// What a successful ACK reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckReceipt {
    pub notification_id: Uuid,
    pub latency_ms: u64,
}

/// An expired pending ACK, handed back so that it can be counted or redelivered.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiredAck {
    pub user: UserKey,
    pub pending: PendingAck,
}

/// Counts reported by an ACK store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct AckStats {
    pub pending: u64,
    pub acknowledged: u64,
    pub expired: u64,
    pub average_ack_time_ms: f64,
}

//! Offline queue policy: how long a queued notification lives and how many a user may hold.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::Notification;

/// Limits applied by every offline queue store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePolicy {
    /// Oldest entries are dropped beyond this many per user.
    pub max_per_user: usize,
    /// How long a queued entry is kept, unless the notification's own ttl is shorter.
    pub message_ttl_seconds: u32,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        Self { max_per_user: 100, message_ttl_seconds: 3600 }
    }
}

/// A notification waiting for its user to come back; shared, not copied, by the queue entries of
/// every user of one send.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedNotification {
    pub notification: Arc<Notification>,
    pub enqueued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl QueuedNotification {
    /// Wraps `notification` for queueing at `now`: it expires at the earlier of the queue ttl and its own.
    pub fn new(notification: Arc<Notification>, now: DateTime<Utc>, policy: &QueuePolicy) -> Self {
        let queue_expiry = now + Duration::seconds(i64::from(policy.message_ttl_seconds));
        let expires_at = match notification.expires_at() {
            Some(own) if own < queue_expiry => own,
            _ => queue_expiry,
        };
        Self { notification, enqueued_at: now, expires_at }
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

/// Counts reported by a queue store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    pub queued_messages: u64,
    pub users_with_queue: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NotificationDraft, TenantId};

    fn note(ttl: Option<u32>, now: DateTime<Utc>) -> Notification {
        NotificationDraft::new(TenantId::default_tenant(), "e".into(), serde_json::json!({}), None, ttl, 1024)
            .unwrap()
            .accept(now)
    }

    #[test]
    fn expiry_is_the_earlier_of_queue_and_own_ttl() {
        // Whole milliseconds: the precision notifications are accepted at.
        let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
        let policy = QueuePolicy { max_per_user: 10, message_ttl_seconds: 60 };
        let q = QueuedNotification::new(Arc::new(note(None, now)), now, &policy);
        assert_eq!(q.expires_at, now + Duration::seconds(60));
        let q = QueuedNotification::new(Arc::new(note(Some(5), now)), now, &policy);
        assert_eq!(q.expires_at, now + Duration::seconds(5));
        assert!(!q.is_expired(now + Duration::seconds(4)));
        assert!(q.is_expired(now + Duration::seconds(5)));
    }
}

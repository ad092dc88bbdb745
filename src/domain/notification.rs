//! A notification: what a backend asked Ara to deliver, once validated and stamped with an id.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{TenantId, ValidationError};

/// Delivery priority. High and Critical may be tracked more strictly (see the ACK settings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Priority {
    #[serde(alias = "low", alias = "LOW")]
    Low,
    #[default]
    #[serde(alias = "normal", alias = "NORMAL")]
    Normal,
    #[serde(alias = "high", alias = "HIGH")]
    High,
    #[serde(alias = "critical", alias = "CRITICAL")]
    Critical,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "Low",
            Priority::Normal => "Normal",
            Priority::High => "High",
            Priority::Critical => "Critical",
        }
    }
}

/// Ids accepted by this process are strictly increasing, even within one millisecond: the context
/// keeps a counter below the timestamp.
static ID_CONTEXT: std::sync::Mutex<uuid::ContextV7> = std::sync::Mutex::new(uuid::ContextV7::new());

/// The validated content of a notification before it is accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationDraft {
    pub tenant: TenantId,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub priority: Priority,
    pub ttl_seconds: Option<u32>,
}

impl NotificationDraft {
    pub const MAX_EVENT_TYPE_LEN: usize = 128;
    /// A week: longer-lived notifications are not notifications any more.
    pub const MAX_TTL_SECONDS: u32 = 7 * 24 * 3600;

    /// Checks every rule that does not need the outside world. `max_payload_bytes` is the serialized
    /// size the payload may take.
    pub fn new(
        tenant: TenantId,
        event_type: String,
        payload: serde_json::Value,
        priority: Option<Priority>,
        ttl_seconds: Option<u32>,
        max_payload_bytes: usize,
    ) -> Result<Self, ValidationError> {
        Self::check_event_type(&event_type)?;
        Self::check_ttl(ttl_seconds)?;
        let size = serde_json::to_vec(&payload).map(|v| v.len()).unwrap_or(usize::MAX);
        if size > max_payload_bytes {
            return Err(ValidationError::PayloadTooLarge { size, max: max_payload_bytes });
        }
        Ok(Self { tenant, event_type, payload, priority: priority.unwrap_or_default(), ttl_seconds })
    }

    /// The event type rule, shared with templates (which carry one for the drafts they render).
    pub fn check_event_type(event_type: &str) -> Result<(), ValidationError> {
        if event_type.trim().is_empty()
            || event_type.chars().count() > Self::MAX_EVENT_TYPE_LEN
            || event_type.chars().any(char::is_control)
        {
            return Err(ValidationError::InvalidEventType);
        }
        Ok(())
    }

    /// The ttl rule, shared with templates (whose ttl is a default for the drafts they render).
    pub fn check_ttl(ttl_seconds: Option<u32>) -> Result<(), ValidationError> {
        match ttl_seconds {
            Some(ttl) if ttl == 0 || ttl > Self::MAX_TTL_SECONDS => {
                Err(ValidationError::InvalidTtl { max: Self::MAX_TTL_SECONDS })
            }
            _ => Ok(()),
        }
    }

    /// Accepts the draft: gives it a time-ordered id (UUID v7) and its acceptance time.
    pub fn accept(self, now: DateTime<Utc>) -> Notification {
        let ts = uuid::Timestamp::from_unix(&ID_CONTEXT, now.timestamp().max(0) as u64, now.timestamp_subsec_nanos());
        Notification {
            id: Uuid::new_v7(ts),
            tenant: self.tenant,
            event_type: self.event_type,
            payload: self.payload,
            priority: self.priority,
            ttl_seconds: self.ttl_seconds,
            created_at: now,
        }
    }
}

/// An accepted notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: Uuid,
    #[serde(rename = "tenant_id")]
    pub tenant: TenantId,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub priority: Priority,
    #[serde(rename = "ttl")]
    pub ttl_seconds: Option<u32>,
    pub created_at: DateTime<Utc>,
}

impl Notification {
    /// When the notification stops being worth delivering, if it carries its own ttl.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.ttl_seconds.map(|ttl| self.created_at + chrono::Duration::seconds(i64::from(ttl)))
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at().is_some_and(|at| at <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(event: &str, payload: serde_json::Value, ttl: Option<u32>) -> Result<NotificationDraft, ValidationError> {
        NotificationDraft::new(TenantId::default_tenant(), event.into(), payload, None, ttl, 1024)
    }

    #[test]
    fn rejects_bad_event_types() {
        assert_eq!(draft("", json!({}), None), Err(ValidationError::InvalidEventType));
        assert_eq!(draft("   ", json!({}), None), Err(ValidationError::InvalidEventType));
        assert!(draft(&"e".repeat(129), json!({}), None).is_err());
        assert!(draft("order.created", json!({}), None).is_ok());
    }

    #[test]
    fn rejects_oversized_payloads_and_bad_ttls() {
        let big = json!({ "x": "a".repeat(2000) });
        assert!(matches!(draft("e", big, None), Err(ValidationError::PayloadTooLarge { .. })));
        assert!(matches!(draft("e", json!(1), Some(0)), Err(ValidationError::InvalidTtl { .. })));
        assert!(draft("e", json!(1), Some(60)).is_ok());
    }

    #[test]
    fn accepted_ids_are_v7_and_time_ordered() {
        let now = Utc::now();
        let a = draft("e", json!(1), None).unwrap().accept(now);
        let b = draft("e", json!(1), None).unwrap().accept(now + chrono::Duration::milliseconds(2));
        assert_eq!(a.id.get_version_num(), 7);
        assert!(a.id < b.id);
        assert_eq!(a.priority, Priority::Normal);
        let same_ms: Vec<Uuid> = (0..1000).map(|_| draft("e", json!(1), None).unwrap().accept(now).id).collect();
        assert!(same_ms.windows(2).all(|w| w[0] < w[1]), "ids within one millisecond still increase");
    }

    #[test]
    fn expiry_follows_own_ttl() {
        let now = Utc::now();
        let n = draft("e", json!(1), Some(10)).unwrap().accept(now);
        assert!(!n.is_expired(now + chrono::Duration::seconds(9)));
        assert!(n.is_expired(now + chrono::Duration::seconds(10)));
        let forever = draft("e", json!(1), None).unwrap().accept(now);
        assert!(!forever.is_expired(now + chrono::Duration::days(365)));
    }

    #[test]
    fn priority_accepts_both_cases() {
        let p: Priority = serde_json::from_str("\"high\"").unwrap();
        assert_eq!(p, Priority::High);
        let p: Priority = serde_json::from_str("\"Critical\"").unwrap();
        assert_eq!(p, Priority::Critical);
        assert!(serde_json::from_str::<Priority>("\"urgent\"").is_err());
    }
}

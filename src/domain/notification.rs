//! A notification: what a backend asked Ara to deliver, once validated and stamped with an id.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
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

/// The validated content of a notification before it is accepted. Its payload is serialized once,
/// here: the size check is those bytes' length, and they are the ones every recipient, queue entry
/// and ACK record shares.
#[derive(Debug, Clone)]
pub struct NotificationDraft {
    pub tenant: TenantId,
    pub event_type: String,
    payload: Box<RawValue>,
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
        // A `Value` always serializes; the fallback only keeps this free of a panic path.
        let payload = serde_json::value::to_raw_value(&payload)
            .unwrap_or_else(|_| RawValue::from_string("null".into()).unwrap_or_default());
        let size = payload.get().len();
        if size > max_payload_bytes {
            return Err(ValidationError::PayloadTooLarge { size, max: max_payload_bytes });
        }
        Ok(Self { tenant, event_type, payload, priority: priority.unwrap_or_default(), ttl_seconds })
    }

    /// The payload as it will be sent: compact JSON.
    pub fn payload_json(&self) -> &str {
        self.payload.get()
    }

    /// The payload, parsed again: for tests and diagnostics (delivery uses the JSON as it is).
    pub fn payload(&self) -> serde_json::Value {
        serde_json::from_str(self.payload.get()).unwrap_or_default()
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

    /// Accepts the draft: gives it a time-ordered id (UUID v7) and its acceptance time (kept to the
    /// millisecond, the precision of the frame's `timestamp` and of every store), and writes the
    /// client's frame once.
    pub fn accept(self, now: DateTime<Utc>) -> Notification {
        let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        let ts = uuid::Timestamp::from_unix(&ID_CONTEXT, now.timestamp().max(0) as u64, now.timestamp_subsec_nanos());
        let id = Uuid::new_v7(ts);
        let frame = Frame {
            kind: FRAME_TYPE,
            id,
            event_type: &self.event_type,
            payload: &self.payload,
            priority: self.priority,
            timestamp: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            ttl: self.ttl_seconds,
        };
        // Strings, numbers and an already-valid JSON payload: writing it cannot fail.
        let frame = Bytes::from(serde_json::to_vec(&frame).unwrap_or_default());
        Notification {
            id,
            tenant: self.tenant,
            event_type: self.event_type,
            priority: self.priority,
            ttl_seconds: self.ttl_seconds,
            created_at: now,
            frame,
        }
    }
}

impl PartialEq for NotificationDraft {
    fn eq(&self, other: &Self) -> bool {
        (&self.tenant, &self.event_type, self.payload.get(), self.priority, self.ttl_seconds)
            == (&other.tenant, &other.event_type, other.payload.get(), other.priority, other.ttl_seconds)
    }
}

const FRAME_TYPE: &str = "notification";

/// The client's `notification` frame (docs/PROTOCOL.md), which is also how stores keep it.
#[derive(Serialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: Uuid,
    event_type: &'a str,
    payload: &'a RawValue,
    priority: Priority,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<u32>,
}

/// What is read back from a stored frame: everything but the payload, which stays bytes.
#[derive(Deserialize)]
struct StoredFrame {
    #[serde(rename = "type")]
    kind: String,
    id: Uuid,
    event_type: String,
    #[allow(dead_code)]
    payload: serde::de::IgnoredAny,
    priority: Priority,
    timestamp: DateTime<Utc>,
    #[serde(default)]
    ttl: Option<u32>,
}

/// A stored notification that cannot be read back.
#[derive(Debug, thiserror::Error)]
#[error("not a stored notification: {0}")]
pub struct DecodeError(String);

/// An accepted notification, with the client's frame written once and shared (its bytes are
/// reference-counted) by every recipient, queue entry and ACK record.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: Uuid,
    pub tenant: TenantId,
    pub event_type: String,
    pub priority: Priority,
    pub ttl_seconds: Option<u32>,
    pub created_at: DateTime<Utc>,
    frame: Bytes,
}

impl Notification {
    /// When the notification stops being worth delivering, if it carries its own ttl.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.ttl_seconds.map(|ttl| self.created_at + chrono::Duration::seconds(i64::from(ttl)))
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at().is_some_and(|at| at <= now)
    }

    /// The client's frame, UTF-8 JSON; stores keep exactly these bytes.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }

    /// Reads back a notification of `tenant` that a store kept as its [`Self::frame`].
    pub fn decode(tenant: TenantId, frame: Bytes) -> Result<Self, DecodeError> {
        let meta: StoredFrame = serde_json::from_slice(&frame).map_err(|e| DecodeError(e.to_string()))?;
        if meta.kind != FRAME_TYPE {
            return Err(DecodeError(format!("type {} is not a notification", super::Quoted(&meta.kind))));
        }
        Ok(Self {
            id: meta.id,
            tenant,
            event_type: meta.event_type,
            priority: meta.priority,
            ttl_seconds: meta.ttl,
            created_at: meta.timestamp,
            frame,
        })
    }

    /// The payload, parsed: for tests and diagnostics (delivery never parses it).
    pub fn payload(&self) -> serde_json::Value {
        #[derive(Deserialize)]
        struct Payload {
            payload: serde_json::Value,
        }
        serde_json::from_slice::<Payload>(&self.frame).map(|p| p.payload).unwrap_or_default()
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
    fn the_frame_is_written_once_and_reads_back() {
        let now = Utc::now();
        let n = draft("order.shipped", json!({"order": 7, "nul": "a\u{0}b"}), Some(60)).unwrap().accept(now);
        let frame: serde_json::Value = serde_json::from_slice(n.frame()).unwrap();
        assert_eq!(frame["type"], "notification");
        assert_eq!(frame["id"], n.id.to_string());
        assert_eq!(frame["payload"], json!({"order": 7, "nul": "a\u{0}b"}));
        assert_eq!(frame["ttl"], 60);
        assert!(frame["timestamp"].as_str().unwrap().ends_with('Z'));
        let back = Notification::decode(n.tenant.clone(), n.frame().clone()).unwrap();
        assert_eq!(back, n, "a stored frame gives the same notification back");
        assert_eq!(back.payload(), json!({"order": 7, "nul": "a\u{0}b"}));
        assert!(Notification::decode(n.tenant.clone(), Bytes::from_static(b"{}")).is_err());
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

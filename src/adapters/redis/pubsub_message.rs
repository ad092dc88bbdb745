//! The JSON a backend publishes on a Redis channel to have Ara deliver a notification: the fields of
//! a batch item plus an optional `tenant_id`.
//!
//! ```json
//! {"target":{"type":"user","id":"alice"},"event_type":"order.shipped","payload":{"order":"A-17"},
//!  "priority":"High","ttl":300,"tenant_id":"acme"}
//! ```
//! `target` is one of `{"type":"user","id"}`, `{"type":"users","ids"}`, `{"type":"broadcast"}`,
//! `{"type":"channel","name"}`, `{"type":"channels","names"}`. `tenant_id` defaults to `default`.

use serde::Deserialize;
use thiserror::Error;

use crate::adapters::http::target_spec::TargetSpec;
use crate::domain::{NotificationDraft, Priority, Target, TenantId, ValidationError};

#[derive(Debug, Deserialize)]
struct Message {
    target: TargetSpec,
    event_type: Option<String>,
    #[serde(default)]
    payload: Option<serde_json::Value>,
    priority: Option<Priority>,
    ttl: Option<u32>,
    tenant_id: Option<String>,
    /// Template sends are part of the templates work; until the service can render one, such a
    /// message is refused with [`MessageError::TemplatesUnsupported`] rather than sent half-filled.
    template_id: Option<String>,
}

/// Why a message was dropped; logged with the message's channel and counted as malformed.
#[derive(Debug, Error)]
pub enum MessageError {
    #[error("not a notification message: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("event_type is required")]
    MissingEventType,
    #[error("template_id is not supported over Redis Pub/Sub yet; send event_type and payload")]
    TemplatesUnsupported,
}

/// Parses and validates one published message. `max_payload_bytes` is the HTTP body limit, so both
/// triggers accept the same notifications.
pub fn parse(raw: &[u8], max_payload_bytes: usize) -> Result<(NotificationDraft, Target), MessageError> {
    let message: Message = serde_json::from_slice(raw)?;
    if message.template_id.is_some() {
        return Err(MessageError::TemplatesUnsupported);
    }
    let event_type = message.event_type.ok_or(MessageError::MissingEventType)?;
    let tenant = match message.tenant_id.as_deref() {
        None => TenantId::default_tenant(),
        Some(raw) => TenantId::parse(raw)?,
    };
    let target = message.target.into_target()?;
    let payload = message.payload.unwrap_or_else(|| serde_json::Value::Object(Default::default()));
    let draft = NotificationDraft::new(tenant, event_type, payload, message.priority, message.ttl, max_payload_bytes)?;
    Ok((draft, target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    #[test]
    fn parses_a_full_message() {
        let raw = br#"{"target":{"type":"user","id":"alice"},"event_type":"e","payload":{"a":1},
            "priority":"high","ttl":60,"tenant_id":"acme"}"#;
        let (draft, target) = parse(raw, 1024).unwrap();
        assert_eq!(target, Target::User(UserId::parse("alice").unwrap()));
        assert_eq!(draft.tenant.to_string(), "acme");
        assert_eq!((draft.priority, draft.ttl_seconds), (Priority::High, Some(60)));
    }

    #[test]
    fn defaults_tenant_and_payload() {
        let (draft, target) = parse(br#"{"target":{"type":"broadcast"},"event_type":"e"}"#, 1024).unwrap();
        assert_eq!(target, Target::Broadcast);
        assert_eq!(draft.tenant, TenantId::default_tenant());
        assert_eq!(draft.payload, serde_json::json!({}));
    }

    #[test]
    fn says_why_a_message_is_refused() {
        let reason = |raw: &[u8]| parse(raw, 16).unwrap_err().to_string();
        assert!(reason(b"not json").contains("not a notification message"));
        assert!(reason(br#"{"event_type":"e"}"#).contains("target"));
        assert!(reason(br#"{"target":{"type":"broadcast"}}"#).contains("event_type"));
        assert!(reason(br#"{"target":{"type":"channel","name":"bad name"},"event_type":"e"}"#).contains("channel"));
        assert!(reason(br#"{"target":{"type":"broadcast"},"event_type":"e","tenant_id":"a b"}"#).contains("tenant"));
        assert!(reason(br#"{"target":{"type":"broadcast"},"template_id":"t"}"#).contains("template_id"));
        assert!(reason(br#"{"target":{"type":"broadcast"},"event_type":"e","payload":"xxxxxxxxxxxxxxxxxxxx"}"#)
            .contains("payload"));
    }
}

//! The JSON a backend publishes on a Redis channel to have Ara deliver a notification: the fields of
//! a batch item plus an optional `tenant_id`.
//!
//! ```json
//! {"target":{"type":"user","id":"alice"},"event_type":"order.shipped","payload":{"order":"A-17"},
//!  "priority":"High","ttl":300,"tenant_id":"acme"}
//! ```
//! `target` is one of `{"type":"user","id"}`, `{"type":"users","ids"}`, `{"type":"broadcast"}`,
//! `{"type":"channel","name"}`, `{"type":"channels","names"}`. `tenant_id` defaults to `default`.
//! Any other field, in the message or its target, makes it malformed.

use serde::Deserialize;
use thiserror::Error;

use crate::domain::{Priority, Target, TenantId, ValidationError};
use crate::service::TargetSpec;
use crate::service::{ContentSource, ResolveError};

/// Unknown fields make the message malformed: a misspelt `priority` or `tenant_id` would otherwise
/// deliver it differently from what its publisher meant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    target: TargetSpec,
    event_type: Option<String>,
    payload: Option<serde_json::Value>,
    template_id: Option<String>,
    variables: Option<serde_json::Map<String, serde_json::Value>>,
    priority: Option<Priority>,
    ttl: Option<u32>,
    tenant_id: Option<String>,
}

/// A message that parsed: who it is for and what to render, before templates are resolved.
#[derive(Debug)]
pub struct ParsedMessage {
    pub tenant: TenantId,
    pub target: Target,
    pub content: ContentSource,
    pub priority: Option<Priority>,
    pub ttl: Option<u32>,
}

/// Why a message was dropped; logged with the message's channel and counted as malformed.
#[derive(Debug, Error)]
pub enum MessageError {
    #[error("not a notification message: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("{0}")]
    Content(#[from] ResolveError),
}

/// Parses one published message. Content is checked when the template resolver renders it, with the
/// HTTP body limit, so both triggers accept the same notifications.
pub fn parse(raw: &[u8]) -> Result<ParsedMessage, MessageError> {
    let message: Message = serde_json::from_slice(raw)?;
    let tenant = match message.tenant_id.as_deref() {
        None => TenantId::default_tenant(),
        Some(raw) => TenantId::parse(raw)?,
    };
    let target = message.target.to_target()?;
    let content =
        ContentSource::from_parts(message.event_type, message.payload, message.template_id, message.variables)?;
    Ok(ParsedMessage { tenant, target, content, priority: message.priority, ttl: message.ttl })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    #[test]
    fn parses_a_full_message() {
        let raw = br#"{"target":{"type":"user","id":"alice"},"event_type":"e","payload":{"a":1},
            "priority":"high","ttl":60,"tenant_id":"acme"}"#;
        let m = parse(raw).unwrap();
        assert_eq!(m.target, Target::User(UserId::parse("alice").unwrap()));
        assert_eq!(m.tenant.to_string(), "acme");
        assert_eq!((m.priority, m.ttl), (Some(Priority::High), Some(60)));
        assert!(matches!(m.content, ContentSource::Inline { ref event_type, .. } if event_type == "e"));
    }

    #[test]
    fn defaults_tenant_and_payload() {
        let m = parse(br#"{"target":{"type":"broadcast"},"event_type":"e"}"#).unwrap();
        assert_eq!(m.target, Target::Broadcast);
        assert_eq!(m.tenant, TenantId::default_tenant());
        assert!(matches!(m.content, ContentSource::Inline { ref payload, .. } if payload == &serde_json::json!({})));
    }

    #[test]
    fn says_why_a_message_is_refused() {
        let reason = |raw: &[u8]| parse(raw).unwrap_err().to_string();
        assert!(reason(b"not json").contains("not a notification message"));
        assert!(reason(br#"{"event_type":"e"}"#).contains("target"));
        assert!(reason(br#"{"target":{"type":"broadcast"}}"#).contains("event_type"));
        assert!(reason(br#"{"target":{"type":"channel","name":"bad name"},"event_type":"e"}"#).contains("channel"));
        assert!(reason(br#"{"target":{"type":"broadcast"},"event_type":"e","tenant_id":"a b"}"#).contains("tenant"));
        assert!(reason(br#"{"target":{"type":"broadcast"},"template_id":"t","event_type":"e"}"#).contains("either"));
        assert!(reason(br#"{"target":{"type":"broadcast"},"event_type":"e","prioritty":"high"}"#)
            .contains("unknown field `prioritty`"));
        assert!(reason(br#"{"target":{"type":"user","id":"a","tenant":"x"},"event_type":"e"}"#)
            .contains("unknown field `tenant`"));
        let templated = parse(br#"{"target":{"type":"broadcast"},"template_id":"t","variables":{"a":1}}"#).unwrap();
        assert!(matches!(templated.content, ContentSource::Template { .. }));
    }
}

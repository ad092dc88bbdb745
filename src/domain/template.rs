//! Notification templates: a reusable event type and payload whose strings hold `{{variable}}`
//! placeholders, with a default priority and ttl. A send names the template and supplies the variables;
//! [`Template::draft`] renders the payload (see [`render`] for the substitution rules) and validates the
//! result like any other notification.

mod render;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{NotificationDraft, Priority, TenantId, ValidationError};
pub use render::{placeholders, render, RenderError};

/// A template's id: 1–64 characters of `A-Z a-z 0-9 _ -`, so it fits a URL path segment unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct TemplateId(Arc<str>);

impl TemplateId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !raw.chars().all(valid) {
            return Err(ValidationError::InvalidTemplateId { id: raw.chars().take(80).collect() });
        }
        Ok(Self(raw.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TemplateId {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<TemplateId> for String {
    fn from(v: TemplateId) -> String {
        v.0.to_string()
    }
}

impl fmt::Display for TemplateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a client defines for a template; validated on construction.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSpec {
    pub name: String,
    pub event_type: String,
    pub payload_template: Value,
    /// Used when a send does not set its own.
    pub priority: Option<Priority>,
    /// Used when a send does not set its own.
    pub ttl_seconds: Option<u32>,
}

impl TemplateSpec {
    pub const MAX_NAME_LEN: usize = 128;

    pub fn new(
        name: String,
        event_type: String,
        payload_template: Value,
        priority: Option<Priority>,
        ttl_seconds: Option<u32>,
    ) -> Result<Self, ValidationError> {
        if name.trim().is_empty() || name.chars().count() > Self::MAX_NAME_LEN || name.chars().any(char::is_control) {
            return Err(ValidationError::InvalidTemplateName);
        }
        NotificationDraft::check_event_type(&event_type)?;
        NotificationDraft::check_ttl(ttl_seconds)?;
        Ok(Self { name, event_type, payload_template, priority, ttl_seconds })
    }
}

/// A stored template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub id: TemplateId,
    pub spec: TemplateSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Template {
    /// A template created at `now`.
    pub fn new(id: TemplateId, spec: TemplateSpec, now: DateTime<Utc>) -> Self {
        Self { id, spec, created_at: now, updated_at: now }
    }

    /// The variable names the payload template uses, each once, in reading order with object keys
    /// sorted (as the payload template is stored and returned).
    pub fn variables(&self) -> Vec<String> {
        placeholders(&self.spec.payload_template)
    }

    /// Renders the payload with `variables` and validates the result as a notification of `tenant`.
    /// `priority` and `ttl_seconds` are the send's own; the template's defaults fill in what it leaves out.
    pub fn draft(
        &self,
        tenant: TenantId,
        variables: &Map<String, Value>,
        priority: Option<Priority>,
        ttl_seconds: Option<u32>,
        max_payload_bytes: usize,
    ) -> Result<NotificationDraft, RenderError> {
        let payload = render(&self.spec.payload_template, variables, max_payload_bytes)?;
        NotificationDraft::new(
            tenant,
            self.spec.event_type.clone(),
            payload,
            priority.or(self.spec.priority),
            ttl_seconds.or(self.spec.ttl_seconds),
            max_payload_bytes,
        )
        .map_err(RenderError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(priority: Option<Priority>, ttl: Option<u32>) -> TemplateSpec {
        let payload = json!({"title": "Order {{order_id}} shipped", "count": "{{n}}"});
        TemplateSpec::new("Order shipped".into(), "order.shipped".into(), payload, priority, ttl).unwrap()
    }

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn template_ids_follow_the_rules() {
        assert!(TemplateId::parse("order-shipped_2").is_ok());
        assert!(TemplateId::parse(&"a".repeat(64)).is_ok());
        assert!(TemplateId::parse(&"a".repeat(65)).is_err());
        for bad in ["", "with space", "dot.ted", "sl/ash", "ünicode", "a:b"] {
            assert!(
                matches!(TemplateId::parse(bad), Err(ValidationError::InvalidTemplateId { .. })),
                "{bad:?} must be refused"
            );
        }
        let id: TemplateId = serde_json::from_str("\"t-1\"").unwrap();
        assert_eq!(id.as_str(), "t-1");
        assert!(serde_json::from_str::<TemplateId>("\"t 1\"").is_err());
    }

    #[test]
    fn specs_are_validated() {
        let make = |name: &str, event: &str, ttl| TemplateSpec::new(name.into(), event.into(), json!({}), None, ttl);
        assert!(make("n", "e", Some(60)).is_ok());
        assert_eq!(make("", "e", None), Err(ValidationError::InvalidTemplateName));
        assert_eq!(make("  ", "e", None), Err(ValidationError::InvalidTemplateName));
        assert_eq!(make("a\nb", "e", None), Err(ValidationError::InvalidTemplateName));
        assert!(make(&"n".repeat(128), "e", None).is_ok());
        assert_eq!(make(&"n".repeat(129), "e", None), Err(ValidationError::InvalidTemplateName));
        assert_eq!(make("n", "", None), Err(ValidationError::InvalidEventType));
        assert!(matches!(make("n", "e", Some(0)), Err(ValidationError::InvalidTtl { .. })));
    }

    #[test]
    fn draft_renders_and_applies_defaults_unless_the_send_overrides() {
        let t = Template::new(TemplateId::parse("t").unwrap(), spec(Some(Priority::High), Some(600)), Utc::now());
        assert_eq!(t.variables(), ["n", "order_id"]);
        let v = vars(json!({"order_id": "A-1", "n": 3}));
        let d = t.draft(TenantId::default_tenant(), &v, None, None, 1024).unwrap();
        assert_eq!(d.event_type, "order.shipped");
        assert_eq!(d.payload(), json!({"title": "Order A-1 shipped", "count": 3}));
        assert_eq!((d.priority, d.ttl_seconds), (Priority::High, Some(600)));
        let d = t.draft(TenantId::default_tenant(), &v, Some(Priority::Low), Some(5), 1024).unwrap();
        assert_eq!((d.priority, d.ttl_seconds), (Priority::Low, Some(5)));

        let plain = Template::new(TemplateId::parse("p").unwrap(), spec(None, None), Utc::now());
        let d = plain.draft(TenantId::default_tenant(), &v, None, None, 1024).unwrap();
        assert_eq!((d.priority, d.ttl_seconds), (Priority::Normal, None));
    }

    #[test]
    fn draft_reports_missing_variables_and_oversized_results() {
        let t = Template::new(TemplateId::parse("t").unwrap(), spec(None, None), Utc::now());
        let err = t.draft(TenantId::default_tenant(), &Map::new(), None, None, 1024).unwrap_err();
        assert_eq!(err, RenderError::MissingVariables(vec!["n".into(), "order_id".into()]));
        let big = vars(json!({"order_id": "x".repeat(2000), "n": 1}));
        let err = t.draft(TenantId::default_tenant(), &big, None, None, 1024).unwrap_err();
        assert!(matches!(err, RenderError::Invalid(ValidationError::RenderedPayloadTooLarge { max: 1024 })), "{err:?}");
        // Under the render budget but over the exact serialized limit: the draft's own check refuses it.
        let close = vars(json!({"order_id": "\"".repeat(600), "n": 1}));
        let err = t.draft(TenantId::default_tenant(), &close, None, None, 1024).unwrap_err();
        assert!(matches!(err, RenderError::Invalid(ValidationError::PayloadTooLarge { .. })), "{err:?}");
        let bad_ttl = vars(json!({"order_id": "a", "n": 1}));
        let err = t.draft(TenantId::default_tenant(), &bad_ttl, None, Some(0), 1024).unwrap_err();
        assert!(matches!(err, RenderError::Invalid(ValidationError::InvalidTtl { .. })), "{err:?}");
    }
}

//! Templates as use cases: managing them (stamped by the clock) and resolving what a send carries —
//! an inline event type and payload, or a template id and variables — into a [`NotificationDraft`].
//! Every trigger (HTTP sends, batch items, Redis Pub/Sub) resolves through [`TemplateResolver::draft`],
//! so they all accept the same content with the same errors.
//!
//! With managed tenants (`TENANT_ENABLED`) every tenant has its own templates. Without, templates are
//! global: stored under the `default` tenant, and every sender, whatever its tenant, uses those (see
//! [`TemplateResolver::namespace`]).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::domain::template::RenderError;
use crate::domain::{
    NotificationDraft, Priority, Quoted, Template, TemplateId, TemplateSpec, TenantId, ValidationError,
};
use crate::ports::{DynClock, DynTemplateStore, TemplateStoreError};

/// Where a send's event type and payload come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentSource {
    Inline { event_type: String, payload: Value },
    Template { id: TemplateId, variables: Map<String, Value> },
}

impl ContentSource {
    /// Reads the optional fields a request carries: either `event_type` (and `payload`, default `{}`),
    /// or `template_id` (and `variables`, default none), never a mix.
    pub fn from_parts(
        event_type: Option<String>,
        payload: Option<Value>,
        template_id: Option<String>,
        variables: Option<Map<String, Value>>,
    ) -> Result<Self, ResolveError> {
        match (template_id, event_type) {
            (Some(_), Some(_)) => Err(ResolveError::InvalidContent(
                "give either event_type (with payload) or template_id (with variables), not both",
            )),
            (Some(_), None) if payload.is_some() => Err(ResolveError::InvalidContent(
                "payload cannot be combined with template_id: the template provides it",
            )),
            (Some(id), None) => {
                Ok(ContentSource::Template { id: TemplateId::parse(&id)?, variables: variables.unwrap_or_default() })
            }
            (None, _) if variables.is_some() => {
                Err(ResolveError::InvalidContent("variables are only used with template_id"))
            }
            (None, Some(event_type)) => {
                Ok(ContentSource::Inline { event_type, payload: payload.unwrap_or_else(|| Value::Object(Map::new())) })
            }
            (None, None) => Err(ResolveError::InvalidContent(
                "event_type is required (or template_id with variables, to send a template)",
            )),
        }
    }
}

/// Why a send's content could not become a draft.
#[derive(Debug, Error)]
pub enum ResolveError {
    /// The request mixes or omits the content fields.
    #[error("{0}")]
    InvalidContent(&'static str),
    #[error("no template with id {}", Quoted(.0.as_str()))]
    TemplateNotFound(TemplateId),
    #[error("missing template variables: {}", .0.join(", "))]
    MissingVariables(Vec<String>),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error(transparent)]
    Store(TemplateStoreError),
    /// The tenant may not send now (unknown, suspended, or over a quota).
    #[error(transparent)]
    Tenant(#[from] super::tenants::TenantRefusal),
}

impl From<RenderError> for ResolveError {
    fn from(e: RenderError) -> Self {
        match e {
            RenderError::MissingVariables(names) => ResolveError::MissingVariables(names),
            RenderError::Invalid(v) => ResolveError::Validation(v),
        }
    }
}

pub struct TemplateResolver {
    store: DynTemplateStore,
    clock: DynClock,
    per_tenant: bool,
}

impl TemplateResolver {
    pub fn new(store: DynTemplateStore, clock: DynClock) -> Self {
        Self { store, clock, per_tenant: false }
    }

    /// Each tenant its own templates (managed tenants).
    pub fn per_tenant(mut self) -> Self {
        self.per_tenant = true;
        self
    }

    /// The tenant whose templates `tenant` uses (see the module docs).
    pub fn namespace(&self, tenant: &TenantId) -> TenantId {
        if self.per_tenant {
            tenant.clone()
        } else {
            TenantId::default_tenant()
        }
    }

    /// Millisecond precision: every store keeps it exactly, so what `create` returns is what `get` reads.
    fn now(&self) -> DateTime<Utc> {
        let now = self.clock.now();
        DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
    }

    pub async fn create(
        &self,
        tenant: &TenantId,
        id: TemplateId,
        spec: TemplateSpec,
    ) -> Result<Template, TemplateStoreError> {
        let template = Template::new(id, spec, self.now());
        self.store.create(&self.namespace(tenant), &template).await?;
        Ok(template)
    }

    pub async fn get(&self, tenant: &TenantId, id: &TemplateId) -> Result<Option<Template>, TemplateStoreError> {
        self.store.get(&self.namespace(tenant), id).await
    }

    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<Template>, TemplateStoreError> {
        self.store.list(&self.namespace(tenant)).await
    }

    pub async fn update(
        &self,
        tenant: &TenantId,
        id: &TemplateId,
        spec: TemplateSpec,
    ) -> Result<Template, TemplateStoreError> {
        self.store.update(&self.namespace(tenant), id, &spec, self.now()).await
    }

    pub async fn delete(&self, tenant: &TenantId, id: &TemplateId) -> Result<(), TemplateStoreError> {
        self.store.delete(&self.namespace(tenant), id).await
    }

    pub async fn check_health(&self) -> Result<(), TemplateStoreError> {
        self.store.check_health().await
    }

    /// Validates `source` into a draft of `tenant`. `priority` and `ttl_seconds` are the send's own; for
    /// a template they override its defaults. The rendered payload is held to `max_payload_bytes` like
    /// an inline one.
    pub async fn draft(
        &self,
        tenant: TenantId,
        source: ContentSource,
        priority: Option<Priority>,
        ttl_seconds: Option<u32>,
        max_payload_bytes: usize,
    ) -> Result<NotificationDraft, ResolveError> {
        match source {
            ContentSource::Inline { event_type, payload } => {
                Ok(NotificationDraft::new(tenant, event_type, payload, priority, ttl_seconds, max_payload_bytes)?)
            }
            ContentSource::Template { id, variables } => {
                let template = self.get(&tenant, &id).await.map_err(ResolveError::Store)?;
                let template = template.ok_or(ResolveError::TemplateNotFound(id))?;
                Ok(template.draft(tenant, &variables, priority, ttl_seconds, max_payload_bytes)?)
            }
        }
    }
}

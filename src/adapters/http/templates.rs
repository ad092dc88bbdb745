//! Template management: `POST/GET /api/v1/templates`, `GET/PUT/DELETE /api/v1/templates/{id}`.
//!
//! Templates are global for now (see `service::templates`): what is managed here is what every send
//! that names a `template_id` uses.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::caller::Acting;
use super::error::{ApiError, Body as ErrorResponse};
use super::extract::ApiJson;
use super::state::AppState;
use crate::domain::{Priority, Quoted, Template, TemplateId, TemplateSpec};

/// The fields a client defines, on create and on update.
pub struct TemplateFields {
    pub name: String,
    pub event_type: String,
    pub payload_template: Value,
    pub priority: Option<Priority>,
    pub ttl: Option<u32>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl TemplateFields {
    fn into_spec(self) -> Result<TemplateSpec, ApiError> {
        Ok(TemplateSpec::new(self.name, self.event_type, self.payload_template, self.priority, self.ttl)?)
    }
}

/// Declares a template body: its `id`, then the [`TemplateFields`], unknown fields refused (which a
/// flattened `TemplateFields` would not allow).
macro_rules! template_body {
    ($(#[$attr:meta])* $name:ident { $(#[$id_attr:meta])* id: $id:ty }) => {
        $(#[$attr])*
        #[derive(Debug, Deserialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(#[$id_attr])*
            pub id: $id,
            /// 1–128 characters, not only whitespace, no control characters.
            #[schema(value_type = super::schema::EventTypeSchema)]
            pub name: String,
            /// The event type of every notification sent with this template (not substituted).
            #[schema(value_type = super::schema::EventTypeSchema)]
            pub event_type: String,
            /// Any JSON; `{{variable}}` placeholders in its strings are filled at send time. Default `{}`.
            #[serde(default = "empty_object")]
            pub payload_template: Value,
            /// Default priority (`Low`, `Normal`, `High`, `Critical`) when a send sets none.
            #[schema(value_type = Option<super::schema::PrioritySchema>, example = "High")]
            pub priority: Option<Priority>,
            /// Default ttl in seconds (1–604800) when a send sets none.
            #[schema(minimum = 1, maximum = 604800)]
            #[serde(default, deserialize_with = "crate::adapters::http::integral::option_u32")]
            pub ttl: Option<u32>,
        }

        impl $name {
            fn into_parts(self) -> ($id, TemplateFields) {
                let fields = TemplateFields {
                    name: self.name,
                    event_type: self.event_type,
                    payload_template: self.payload_template,
                    priority: self.priority,
                    ttl: self.ttl,
                };
                (self.id, fields)
            }
        }
    };
}

template_body! {
    CreateTemplate {
        /// 1–64 characters of `A-Z a-z 0-9 _ -`.
        #[schema(value_type = crate::domain::TemplateId)]
        id: String
    }
}

template_body! {
    UpdateTemplate {
        /// Optional; when given it must equal the id in the path (ids cannot be changed).
        id: Option<String>
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    pub id: String,
    pub name: String,
    pub event_type: String,
    pub payload_template: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schema::PrioritySchema>, example = "High")]
    pub priority: Option<Priority>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// The variable names the payload template uses, each once, in reading order with object keys
    /// sorted (as the payload template is stored and returned).
    pub variables: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Template> for TemplateView {
    fn from(t: Template) -> Self {
        let variables = t.variables();
        Self {
            id: t.id.to_string(),
            name: t.spec.name,
            event_type: t.spec.event_type,
            payload_template: t.spec.payload_template,
            priority: t.spec.priority,
            ttl: t.spec.ttl_seconds,
            variables,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    pub templates: Vec<TemplateView>,
    pub total: usize,
}

fn not_found(id: &TemplateId) -> ApiError {
    ApiError::Missing { code: "TEMPLATE_NOT_FOUND", message: format!("no template with id {}", Quoted(id.as_str())) }
}

/// Creates a template.
#[utoipa::path(post, path = "/api/v1/templates", tag = "templates", request_body = CreateTemplate,
    responses((status = 201, body = TemplateView, headers(("location" = String, description = "The template's URL"))),
        (status = 400, description = "VALIDATION_ERROR, INVALID_REQUEST, UNKNOWN_FIELD or INVALID_JSON", body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 409, description = "TEMPLATE_EXISTS", body = ErrorResponse)))]
pub async fn create_template(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(req): ApiJson<CreateTemplate>,
) -> Result<(StatusCode, [(header::HeaderName, String); 1], Json<TemplateView>), ApiError> {
    let (id, fields) = req.into_parts();
    let id = TemplateId::parse(&id)?;
    let template = state.service.templates().create(acting.tenant(), id, fields.into_spec()?).await?;
    let location = format!("/api/v1/templates/{}", template.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(template.into())))
}

/// Every template, ordered by id.
#[utoipa::path(get, path = "/api/v1/templates", tag = "templates",
    responses((status = 200, body = TemplateList), (status = 401, body = ErrorResponse)))]
pub async fn list_templates(State(state): State<AppState>, acting: Acting) -> Result<Json<TemplateList>, ApiError> {
    let templates: Vec<TemplateView> =
        state.service.templates().list(acting.tenant()).await?.into_iter().map(Into::into).collect();
    Ok(Json(TemplateList { total: templates.len(), templates }))
}

/// One template.
#[utoipa::path(get, path = "/api/v1/templates/{id}", tag = "templates",
    params(("id" = crate::domain::TemplateId, Path, description = "Template id")),
    responses((status = 200, body = TemplateView), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 404, description = "TEMPLATE_NOT_FOUND", body = ErrorResponse)))]
pub async fn get_template(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<String>,
) -> Result<Json<TemplateView>, ApiError> {
    let id = TemplateId::parse(&id)?;
    let template = state.service.templates().get(acting.tenant(), &id).await?.ok_or_else(|| not_found(&id))?;
    Ok(Json(template.into()))
}

/// Replaces a template's fields; its id and `created_at` stay.
#[utoipa::path(put, path = "/api/v1/templates/{id}", tag = "templates", request_body = UpdateTemplate,
    params(("id" = crate::domain::TemplateId, Path, description = "Template id")),
    responses((status = 200, body = TemplateView),
        (status = 400, description = "VALIDATION_ERROR, INVALID_REQUEST, UNKNOWN_FIELD or INVALID_JSON", body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 404, description = "TEMPLATE_NOT_FOUND", body = ErrorResponse)))]
pub async fn update_template(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateTemplate>,
) -> Result<Json<TemplateView>, ApiError> {
    let id = TemplateId::parse(&id)?;
    let (given, fields) = req.into_parts();
    if given.as_deref().is_some_and(|given| given != id.as_str()) {
        return Err(ApiError::BadRequest {
            code: "INVALID_REQUEST",
            message: "the id in the body must match the path: template ids cannot be changed".into(),
        });
    }
    Ok(Json(state.service.templates().update(acting.tenant(), &id, fields.into_spec()?).await?.into()))
}

/// Deletes a template. Sends naming it fail with `TEMPLATE_NOT_FOUND` from then on.
#[utoipa::path(delete, path = "/api/v1/templates/{id}", tag = "templates",
    params(("id" = crate::domain::TemplateId, Path, description = "Template id")),
    responses((status = 204, description = "Deleted"), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 404, description = "TEMPLATE_NOT_FOUND", body = ErrorResponse)))]
pub async fn delete_template(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = TemplateId::parse(&id)?;
    state.service.templates().delete(acting.tenant(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

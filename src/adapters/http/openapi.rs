//! The OpenAPI description of every HTTP endpoint, generated from the handlers' annotations; served at
//! `/api-docs/openapi.json` with Swagger UI at `/docs`, and committed as `openapi/openapi.json`.

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::AdditionalProperties;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{HttpMethod, RefOr, ResponseBuilder, Schema, SecurityRequirement};
use utoipa::{Modify, OpenApi, ToSchema};

use super::schema::*;
use super::{audit, batch, channels, cluster, health, revocations, send, templates, tenant_keys, tenants};
use crate::service::TargetSpec;

/// Upgrades to a WebSocket (see docs/PROTOCOL.md for the frames).
#[utoipa::path(get, path = "/ws", tag = "connections",
    params(("token" = Option<String>, Query, description = "JWT; or send Authorization: Bearer")),
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "WEBSOCKET_UPGRADE_REQUIRED", body = super::error::Body),
        (status = 401, description = "MISSING_TOKEN, TOKEN_EXPIRED, TOKEN_NOT_YET_VALID, INVALID_SIGNATURE, INVALID_ALGORITHM, UNKNOWN_KEY, WRONG_TENANT, …", body = super::error::Body),
        (status = 403, description = "TENANT_SUSPENDED, or ORIGIN_NOT_ALLOWED: the handshake's Origin is not in CORS_ORIGINS", body = super::error::Body),
        (status = 404, description = "TENANT_NOT_FOUND", body = super::error::Body),
        (status = 429, description = "USER_CONNECTION_LIMIT, TENANT_QUOTA_EXCEEDED (max_connections, max_connections_per_user), or RATE_LIMIT_EXCEEDED", body = super::error::Body),
        (status = 503, description = "SERVER_FULL, SHUTTING_DOWN or KEYS_UNAVAILABLE", body = super::error::Body)),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn websocket() {}

/// Streams notifications as Server-Sent Events (`connected`, `notification`, `heartbeat`, `error`).
#[utoipa::path(get, path = "/sse", tag = "connections",
    params(("token" = Option<String>, Query, description = "JWT; or send Authorization: Bearer"),
        ("channels" = Option<String>, Query, description = "Comma-separated channels to subscribe to"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this notification id")),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "VALIDATION_ERROR or SUBSCRIPTION_LIMIT", body = super::error::Body),
        (status = 401, description = "Token refused", body = super::error::Body),
        (status = 403, description = "TENANT_SUSPENDED, or ORIGIN_NOT_ALLOWED: the request's Origin is not in CORS_ORIGINS", body = super::error::Body),
        (status = 404, description = "TENANT_NOT_FOUND", body = super::error::Body),
        (status = 429, description = "USER_CONNECTION_LIMIT, TENANT_QUOTA_EXCEEDED (max_connections, max_connections_per_user), or RATE_LIMIT_EXCEEDED", body = super::error::Body),
        (status = 503, description = "SERVER_FULL, SHUTTING_DOWN or KEYS_UNAVAILABLE", body = super::error::Body)),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn server_sent_events() {}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
#[allow(dead_code)]
fn metrics() {}

#[derive(OpenApi)]
#[openapi(
    info(title = "Ara", description = "Real-time notification service: send over HTTP, deliver over WebSocket and SSE."),
    paths(
        send::send_to_user, send::send_to_users, send::broadcast, send::send_to_channel, send::send_to_channels,
        batch::send_batch,
        templates::create_template, templates::list_templates, templates::get_template,
        templates::update_template, templates::delete_template,
        channels::list_channels, channels::get_channel, channels::user_subscriptions,
        revocations::disconnect, revocations::revoke, audit::list,
        cluster::status, cluster::user,
        health::health, health::live, health::ready, health::stats, health::ack_stats,
        websocket, server_sent_events, metrics,
        tenants::list_tenants, tenants::create_tenant, tenants::get_tenant, tenants::update_tenant,
        tenants::delete_tenant, tenants::suspend_tenant, tenants::activate_tenant,
        tenant_keys::list_keys, tenant_keys::create_key, tenant_keys::rotate_key, tenant_keys::revoke_key,
    ),
    components(schemas(
        super::error::Body, super::error::Detail, RateLimitErrorDoc, RateLimitDetailDoc, PrioritySchema,
        send::Content, send::SendToUser, send::SendToUsers, send::SendToChannel, send::SendToChannels,
        send::SendResponse, batch::BatchRequest, batch::BatchItem, batch::ItemResult, batch::Summary,
        batch::BatchResponse, TargetSpec,
        templates::CreateTemplate, templates::UpdateTemplate, templates::TemplateView,
        templates::TemplateList,
        channels::ChannelInfo, channels::ChannelList, channels::UserSubscriptions,
        revocations::DisconnectRequest, revocations::DisconnectResponse, revocations::RevokeRequest,
        revocations::RevokeResponse, audit::AuditPage, audit::AuditEventView,
        cluster::ClusterStatusView, cluster::ClusterUserView, cluster::NodeConnections,
        health::Health, health::Liveness, health::Readiness, health::Stats, crate::delivery::DeliverySnapshot, crate::domain::ack::AckStats, crate::domain::UserId, crate::domain::ChannelName, crate::domain::TemplateId, EventTypeSchema,
        crate::domain::TenantId, tenants::CreateTenant, tenants::UpdateTenant, tenants::LimitsBody,
        tenants::TenantView, tenants::TenantList, tenants::QuotaView, tenants::QuotaUsage, tenants::DeletedTenant, tenants::TokenKeyBody, tenants::TokenKeyView,
        tenant_keys::KeyView, tenant_keys::NewKey, tenant_keys::KeyList,
    )),
    modifiers(&CommonResponses, &ClosedTargetVariants),
    tags(
        (name = "notifications", description = "Send notifications"),
        (name = "templates", description = "Reusable notification templates"),
        (name = "channels", description = "Channel and subscription info"),
        (name = "access", description = "Disconnecting users and revoking tokens"),
        (name = "cluster", description = "Cluster mode: live nodes and where users are"),
        (name = "connections", description = "Client endpoints (JWT)"),
        (name = "operations", description = "Health, stats and metrics"),
        (name = "tenants", description = "Tenants and their API keys (ADMIN_API_KEY, TENANT_ENABLED)"),
    )
)]
pub struct ApiDoc;

/// Security schemes, and the responses every protected or rate-limited operation shares.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let protected = path.starts_with("/api/v1/") || path == "/stats";
            let limited = protected || path == "/ws" || path == "/sse";
            for method in [HttpMethod::Get, HttpMethod::Post, HttpMethod::Put, HttpMethod::Delete] {
                let Some(op) = operation_mut(item, method) else { continue };
                if protected {
                    op.security
                        .get_or_insert_with(Vec::new)
                        .push(SecurityRequirement::new("api_key", Vec::<String>::new()));
                    add_response(op, "401", "MISSING_API_KEY or INVALID_API_KEY", "ErrorResponse");
                    let certificate =
                        "CLIENT_CERTIFICATE_REQUIRED (SERVER_TLS_CLIENT_CA is set and the client presented no certificate)";
                    if path.starts_with("/api/v1/tenants") {
                        add_response(op, "403", certificate, "ErrorResponse");
                        add_response(op, "404", "FEATURE_DISABLED (TENANT_ENABLED=false)", "ErrorResponse");
                    } else {
                        add_response(
                            op,
                            "403",
                            &format!("TENANT_MISMATCH (X-Tenant-Id or a body's tenant_id names another tenant than the key's), TENANT_SUSPENDED or {certificate}"),
                            "ErrorResponse",
                        );
                        add_response(
                            op,
                            "400",
                            "VALIDATION_ERROR or INVALID_TENANT_HEADER (X-Tenant-Id is not a tenant id)",
                            "ErrorResponse",
                        );
                        add_response(
                            op,
                            "404",
                            "FEATURE_DISABLED (X-Tenant-Id names a tenant but TENANT_ENABLED=false), TENANT_NOT_FOUND",
                            "ErrorResponse",
                        );
                        add_tenant_header(op);
                    }
                    add_response(op, "500", "INTERNAL_ERROR", "ErrorResponse");
                }
                // The five single-send routes (not batch, whose items fail one by one inside a 200).
                if path.starts_with("/api/v1/notifications/") && path != "/api/v1/notifications/batch" {
                    for (status, description) in send::SEND_ERRORS {
                        add_response(op, status, description, "ErrorResponse");
                    }
                }
                if op.request_body.is_some() {
                    add_response(
                        op,
                        "400",
                        "INVALID_JSON, INVALID_REQUEST, UNKNOWN_FIELD or VALIDATION_ERROR",
                        "ErrorResponse",
                    );
                    add_response(
                        op,
                        "408",
                        "REQUEST_TIMEOUT (the body took longer than SERVER_REQUEST_TIMEOUT_SECONDS)",
                        "ErrorResponse",
                    );
                    add_response(op, "413", "PAYLOAD_TOO_LARGE", "ErrorResponse");
                    add_response(op, "415", "UNSUPPORTED_MEDIA_TYPE", "ErrorResponse");
                }
                if limited {
                    add_response(
                        op,
                        "429",
                        "RATE_LIMIT_EXCEEDED (with Retry-After and X-RateLimit-* headers)",
                        "RateLimitError",
                    );
                }
            }
        }
    }
}

/// utoipa writes `additionalProperties: false` for `deny_unknown_fields` structs, but not for the
/// variants of an internally tagged enum; `TargetSpec` refuses unknown fields as well, so its variants
/// are closed here.
struct ClosedTargetVariants;

impl Modify for ClosedTargetVariants {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else { return };
        let name = <TargetSpec as ToSchema>::name();
        if let Some(RefOr::T(Schema::OneOf(variants))) = components.schemas.get_mut(name.as_ref()) {
            for variant in &mut variants.items {
                if let RefOr::T(Schema::Object(object)) = variant {
                    object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

fn operation_mut(item: &mut utoipa::openapi::PathItem, method: HttpMethod) -> Option<&mut Operation> {
    match method {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        HttpMethod::Put => item.put.as_mut(),
        HttpMethod::Delete => item.delete.as_mut(),
        _ => None,
    }
}

/// `X-Tenant-Id`: the tenant `ADMIN_API_KEY` acts in (other keys act in their own and may only name it).
fn add_tenant_header(op: &mut Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    let parameter = ParameterBuilder::new()
        .name("X-Tenant-Id")
        .parameter_in(ParameterIn::Header)
        .required(utoipa::openapi::Required::False)
        .description(Some("The tenant ADMIN_API_KEY acts in (default `default`); other keys act in their own"))
        .schema(Some(utoipa::openapi::Ref::from_schema_name("TenantId")))
        .build();
    op.parameters.get_or_insert_with(Vec::new).push(parameter);
}

fn add_response(op: &mut Operation, status: &str, description: &str, schema: &str) {
    if op.responses.responses.contains_key(status) {
        return;
    }
    let content =
        utoipa::openapi::ContentBuilder::new().schema(Some(utoipa::openapi::Ref::from_schema_name(schema))).build();
    let response = ResponseBuilder::new().description(description).content("application/json", content).build();
    op.responses.responses.insert(status.to_owned(), RefOr::T(response));
}

/// A spec as pretty JSON, the way `openapi/openapi.json` is committed.
pub fn to_json(spec: &utoipa::openapi::OpenApi) -> String {
    let mut json = spec.to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

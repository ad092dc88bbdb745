//! The HTTP API's routes with their layers (rate limits, API key, body limits), and the edge layers
//! (CORS, request ids and spans, the 404/405 answers) that the app puts around every route — the
//! API's and the ones other transports mount.

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Method, Uri};
use axum::routing::{get, post};
use axum::{middleware, Router};
use std::sync::Arc;

use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use super::error::ApiError;
use super::live::LiveHttp;
use super::state::AppState;
use utoipa_swagger_ui::SwaggerUi;

use super::body_timeout::{self, BodyDeadline};
use super::{
    audit, batch, caller, channels, client_cert, cluster, health, rate_limit, request_id, revocations, send, templates,
    tenants,
};

/// The API's routes, `/health`, `/stats`, and `spec` (the whole server's description) with its UI.
pub fn router(state: AppState, spec: utoipa::openapi::OpenApi) -> Router {
    let api = Router::new()
        .route("/api/v1/notifications/send", post(send::send_to_user))
        .route("/api/v1/notifications/send-to-users", post(send::send_to_users))
        .route("/api/v1/notifications/broadcast", post(send::broadcast))
        .route("/api/v1/notifications/channel", post(send::send_to_channel))
        .route("/api/v1/notifications/channels", post(send::send_to_channels))
        .route("/api/v1/stats/acks", get(health::ack_stats))
        .route("/api/v1/channels", get(channels::list_channels))
        .route("/api/v1/channels/{name}", get(channels::get_channel))
        .route("/api/v1/users/{user_id}/subscriptions", get(channels::user_subscriptions))
        .route("/api/v1/users/{user_id}/disconnect", post(revocations::disconnect))
        .route("/api/v1/tokens/revoke", post(revocations::revoke))
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/cluster/status", get(cluster::status))
        .route("/api/v1/cluster/users/{user_id}", get(cluster::user))
        .route("/api/v1/templates", get(templates::list_templates).post(templates::create_template))
        .route(
            "/api/v1/templates/{id}",
            get(templates::get_template).put(templates::update_template).delete(templates::delete_template),
        )
        .merge(tenants::routes())
        .layer(DefaultBodyLimit::max(state.body_limit_bytes));
    // The batch route has its own, larger limit; it is merged after the layer above so it keeps it.
    let batch = Router::new()
        .route("/api/v1/notifications/batch", post(batch::send_batch))
        .layer(DefaultBodyLimit::max(batch::BODY_LIMIT_BYTES));
    let api = api.merge(batch);
    // Full paths rather than `nest("/api/v1", …)`: nesting adds a prefix-stripping service per request.
    let protected = api
        .route("/stats", get(health::stats))
        .route_layer(middleware::from_fn_with_state(state.clone(), caller::resolve_caller))
        // Outside the key check, so that guessing keys is limited per IP too.
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit::limit_api))
        // Before the key is even looked at: without a certificate, a key is worth nothing.
        .route_layer(middleware::from_fn_with_state(state.clone(), client_cert::require_client_certificate))
        // Outermost of these, so the body's clock starts when its headers have been read.
        .route_layer(middleware::map_request_with_state(
            BodyDeadline(state.request_body_timeout),
            body_timeout::bound_request_body,
        ));
    Router::new()
        .merge(protected)
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .merge(SwaggerUi::new("/docs").url("/api-docs/openapi.json", spec))
        .with_state(state)
}

/// Structured 404/405 answers for whatever no route takes.
pub fn fallbacks(routes: Router) -> Router {
    routes.fallback(not_found).method_not_allowed_fallback(method_not_allowed)
}

/// Puts the edge around `routes`: CORS (the origins `live` holds at each request), a span per
/// request and the request id (outermost, so the id is settled before the span is made, and set on
/// every response).
pub fn edge(routes: Router, live: Arc<LiveHttp>) -> Router {
    routes
        .layer(cors(live))
        .layer(TraceLayer::new_for_http().make_span_with(request_id::make_span).on_response(request_id::RecordResponse))
        .layer(middleware::from_fn(request_id::propagate))
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(uri.path().to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn cors(live: Arc<LiveHttp>) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static(caller::API_KEY_HEADER),
            HeaderName::from_static(caller::TENANT_HEADER),
            request_id::HEADER,
            HeaderName::from_static("traceparent"),
            HeaderName::from_static("tracestate"),
        ])
        .expose_headers([request_id::HEADER].into_iter().chain(rate_limit::EXPOSED_HEADERS).collect::<Vec<_>>());
    // A predicate rather than a fixed list, so that a reload of `CORS_ORIGINS` applies at once; it
    // echoes an allowed origin (with `Vary: Origin`) where a fixed `Any` would answer `*`.
    layer.allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| live.allows_origin(origin)))
}

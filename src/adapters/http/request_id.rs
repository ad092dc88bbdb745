//! Request ids and the request span.
//!
//! `X-Request-Id` is taken from the caller when it is at most 128 visible ASCII characters, generated
//! (UUID v7) otherwise, and returned on every response. Each request runs in an `http.request` span
//! that records the method, the matched route template, the path and the request id — so every log
//! line of the request carries the id — and continues the caller's W3C trace (`traceparent`) when
//! spans are exported. The span never records the query string (WebSocket and SSE clients may put
//! their token there) nor any header (`Authorization`, `X-API-Key`).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response};
use axum::middleware::Next;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tower_http::trace::{DefaultOnResponse, OnResponse};
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Longest caller-supplied id that is kept.
pub const MAX_LEN: usize = 128;

/// The id of the request being handled, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    pub fn as_str(&self) -> &str {
        // Only visible ASCII is ever stored.
        self.0.to_str().unwrap_or_default()
    }
}

/// Middleware (outermost): settles the request's id before anything else sees the request, and puts
/// it on the response, whatever produced the response.
pub async fn propagate(mut request: Request, next: Next) -> axum::response::Response {
    let id = request.headers().get(&HEADER).filter(|v| is_acceptable(v)).cloned().unwrap_or_else(generate);
    request.headers_mut().insert(HEADER, id.clone());
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    response.headers_mut().insert(HEADER, id);
    response
}

/// Visible ASCII only: nothing that could split a log line or smuggle control characters into it.
fn is_acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
}

fn generate() -> HeaderValue {
    // A hyphenated UUID is always a valid header value.
    HeaderValue::try_from(Uuid::now_v7().to_string()).unwrap_or(HeaderValue::from_static("unknown"))
}

/// `TraceLayer` span maker. The route is the matched template (`/api/v1/channels/{name}`), never a
/// raw path with ids in it, so that span names stay few; the path itself is an attribute.
pub fn make_span(request: &Request<Body>) -> Span {
    let method = request.method().as_str();
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    let request_id = request.extensions().get::<RequestId>().map_or("", RequestId::as_str);
    let span = tracing::info_span!(
        "http.request",
        otel.name = %SpanName(method, route),
        otel.kind = "server",
        http.request.method = method,
        http.route = route,
        url.path = request.uri().path(),
        request_id,
        http.response.status_code = Empty,
        otel.status_code = Empty,
    );
    // Only a caller that sends a trace context pays for reading it.
    if request.headers().contains_key("traceparent") {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
        // Fails only when spans are not exported, and then there is no trace to continue.
        let _ = span.set_parent(parent);
    }
    span
}

/// `GET /api/v1/channels/{name}`, or just the method for a request no route matched.
struct SpanName<'a>(&'a str, Option<&'a str>);

impl std::fmt::Display for SpanName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(route) => write!(f, "{} {route}", self.0),
            None => f.write_str(self.0),
        }
    }
}

/// Records the status on the request span (a 5xx marks it as an error), then logs the response at
/// DEBUG like `TraceLayer`'s default.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordResponse;

impl<B> OnResponse<B> for RecordResponse {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        let status = response.status();
        span.record("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
        DefaultOnResponse::new().on_response(response, latency, span);
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

#[cfg(test)]
#[path = "request_id_tests.rs"]
mod tests;

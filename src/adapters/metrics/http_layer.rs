//! HTTP request metrics, labelled by the matched route template (never the raw path, whose user ids
//! and channel names would make label cardinality unbounded).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::Metrics;

pub async fn record_http(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |m| route_label(m.as_str()));
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics.http_requests.with_label_values(&[&method, &route, &status]).inc();
    metrics.http_duration.with_label_values(&[&method, &route]).observe(started.elapsed().as_secs_f64());
    response
}

/// `/users/{user_id}` → `/users/:user_id`: some Prometheus text parsers choke on `}` inside a label value.
fn route_label(template: &str) -> String {
    template.replace('{', ":").replace('}', "")
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_templates_become_brace_free_labels() {
        assert_eq!(super::route_label("/api/v1/users/{user_id}/subscriptions"), "/api/v1/users/:user_id/subscriptions");
        assert_eq!(super::route_label("/health"), "/health");
    }
}

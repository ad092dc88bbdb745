//! HTTP request metrics, labelled by the matched route template (never the raw path, whose user ids
//! and channel names would make label cardinality unbounded).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::Metrics;

pub async fn record_http(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // `MatchedPath` is a shared string: cloning it is cheap and frees the request for `next`.
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or(Cow::Borrowed("unmatched"), |m| route_label(m.as_str()));
    let response = next.run(request).await;
    let status = response.status();
    let labels = [method.as_str(), &route, status.as_str()];
    metrics.http_requests.with_label_values(&labels).inc();
    metrics.http_duration.with_label_values(&labels[..2]).observe(started.elapsed().as_secs_f64());
    response
}

/// `/users/{user_id}` → `/users/:user_id`: some Prometheus text parsers choke on `}` inside a label value.
/// Most routes have no parameter and are used as they are, without allocating.
fn route_label(template: &str) -> Cow<'_, str> {
    if template.contains('{') {
        Cow::Owned(template.replace('{', ":").replace('}', ""))
    } else {
        Cow::Borrowed(template)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_templates_become_brace_free_labels() {
        assert_eq!(super::route_label("/api/v1/users/{user_id}/subscriptions"), "/api/v1/users/:user_id/subscriptions");
        assert_eq!(super::route_label("/health"), "/health");
    }
}

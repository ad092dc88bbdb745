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
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics.http_requests.with_label_values(&[&method, &route, &status]).inc();
    metrics.http_duration.with_label_values(&[&method, &route]).observe(started.elapsed().as_secs_f64());
    response
}

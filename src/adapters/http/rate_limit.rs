//! Rate limiting at the HTTP edge, as two middlewares over the `RateLimiter` port:
//! - [`limit_api`] for the HTTP API: one budget for callers holding the configured API key, else one
//!   per client IP (`RATELIMIT_HTTP_*`);
//! - [`limit_connections`] for connection endpoints (`GET /ws`, `GET /sse`): one budget per client IP
//!   (`RATELIMIT_WS_CONNECTIONS_PER_MINUTE`), checked before authentication.
//!
//! Every limited response carries `X-RateLimit-Limit` (the burst), `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (seconds until the budget is full again); a refusal is a 429 with `Retry-After`
//! and `{"error":{"code":"RATE_LIMIT_EXCEEDED","message","retry_after_seconds"}}`. `/health` and
//! `/metrics` are never limited (the router does not put them behind these layers).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use super::caller::{self, CallerKind};
use super::client_ip::client_ip;
use super::state::AppState;
use crate::ports::{Decision, DynPolicySource, DynRateLimiter, DynTransportMetrics, Quota};

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
/// What CORS exposes to browser scripts, so that a page can see its budget and how long to back off.
pub(super) const EXPOSED_HEADERS: [HeaderName; 4] = [LIMIT, REMAINING, RESET, axum::http::header::RETRY_AFTER];

/// What the middlewares need; `AppState::rate_limit` is `None` when `RATELIMIT_ENABLED=false`. The
/// budgets are read from the policy source on every check, so they can change while Ara runs.
pub struct RateLimitPolicy {
    pub limiter: DynRateLimiter,
    pub policies: DynPolicySource,
    pub trusted_proxies: Vec<IpNet>,
    pub rejected: AtomicU64,
    pub metrics: DynTransportMetrics,
}

impl RateLimitPolicy {
    pub fn new(
        limiter: DynRateLimiter,
        policies: DynPolicySource,
        trusted_proxies: Vec<IpNet>,
        metrics: DynTransportMetrics,
    ) -> Self {
        Self { limiter, policies, trusted_proxies, rejected: AtomicU64::new(0), metrics }
    }

    /// Requests rate limiting has refused so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Checks `key` against `quota`. `Err` is the 429 to return; `Ok(None)` means the limiter could not
    /// answer at all and the request goes through unlimited (logged).
    pub async fn check(&self, quota: &Quota, key: &str) -> Result<Option<Decision>, Response> {
        match self.limiter.check(quota, key).await {
            Ok(d) if d.allowed => Ok(Some(d)),
            Ok(d) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                Err(too_many_requests(&d))
            }
            Err(e) => {
                tracing::error!(error = %crate::domain::ErrorChain(&e), "rate limiter failed; request not limited");
                Ok(None)
            }
        }
    }

    fn client(&self, request: &Request) -> String {
        let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        match client_ip(peer, request.headers(), &self.trusted_proxies) {
            Some(ip) => ip_key(ip),
            None => "ip:unknown".into(),
        }
    }
}

fn ip_key(ip: IpAddr) -> String {
    format!("ip:{ip}")
}

/// Middleware for the HTTP API.
pub async fn limit_api(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(policy) = state.rate_limit.clone() else { return next.run(request).await };
    // Only a configured or issued key names a budget of its own: any other value would let a client
    // mint fresh budgets by changing the header. Each tenant key is its tenant's budget.
    let key = match caller::resolve(&state, request.headers()) {
        Ok(c) if c.kind == CallerKind::ApiKey => "http:api-key".to_owned(),
        Ok(c) if c.kind == CallerKind::Admin => "http:admin-key".to_owned(),
        Ok(c) if c.kind == CallerKind::TenantKey => format!("http:tenant:{}", c.tenant),
        _ => format!("http:{}", policy.client(&request)),
    };
    let Some(quotas) = policy.policies.rate_quotas() else { return next.run(request).await };
    limited(&policy, &quotas.http, "http", &key, request, next).await
}

/// Middleware for connection endpoints (WebSocket and SSE): per client IP. The app mounts it on those
/// routes (they belong to their transports).
pub async fn limit_connections(State(policy): State<Arc<RateLimitPolicy>>, request: Request, next: Next) -> Response {
    let key = format!("conn:{}", policy.client(&request));
    let Some(quotas) = policy.policies.rate_quotas() else { return next.run(request).await };
    limited(&policy, &quotas.connections, "connection", &key, request, next).await
}

async fn limited(
    policy: &RateLimitPolicy,
    quota: &Quota,
    kind: &'static str,
    key: &str,
    request: Request,
    next: Next,
) -> Response {
    let checked = policy.check(quota, key).await;
    let decision = if checked.is_ok() { "allowed" } else { "denied" };
    policy.metrics.rate_limit(kind, decision);
    match checked {
        Err(refusal) => refusal,
        Ok(decision) => {
            let mut response = next.run(request).await;
            if let Some(d) = decision {
                set_headers(response.headers_mut(), &d);
            }
            response
        }
    }
}

fn set_headers(headers: &mut HeaderMap, d: &Decision) {
    headers.insert(LIMIT, HeaderValue::from(d.limit));
    headers.insert(REMAINING, HeaderValue::from(d.remaining));
    headers.insert(RESET, HeaderValue::from(ceil_seconds(d.reset_after)));
}

fn ceil_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The 429 for a refused decision.
pub fn too_many_requests(d: &Decision) -> Response {
    let retry = ceil_seconds(d.retry_after).max(1);
    let body = serde_json::json!({
        "error": {
            "code": "RATE_LIMIT_EXCEEDED",
            "message": format!("too many requests; retry in {retry} second(s)"),
            "retry_after_seconds": retry,
        }
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    set_headers(headers, d);
    headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(retry));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_seconds_up() {
        assert_eq!(ceil_seconds(Duration::ZERO), 0);
        assert_eq!(ceil_seconds(Duration::from_millis(10)), 1);
        assert_eq!(ceil_seconds(Duration::from_secs(2)), 2);
    }

    #[tokio::test]
    async fn refusal_has_body_and_headers() {
        let d = Decision {
            allowed: false,
            limit: 5,
            remaining: 0,
            reset_after: Duration::from_millis(4500),
            retry_after: Duration::from_millis(300),
        };
        let response = too_many_requests(&d);
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let h = response.headers();
        assert_eq!((h["retry-after"].to_str().unwrap(), h["x-ratelimit-limit"].to_str().unwrap()), ("1", "5"));
        assert_eq!(
            (h["x-ratelimit-remaining"].to_str().unwrap(), h["x-ratelimit-reset"].to_str().unwrap()),
            ("0", "5")
        );
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "RATE_LIMIT_EXCEEDED");
        assert_eq!(json["error"]["retry_after_seconds"], 1);
    }
}

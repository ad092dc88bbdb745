//! Rate limiting at the HTTP edge, on both backends: headers on every limited response, the 429 body,
//! burst behaviour, one budget per API key or client IP, connection limits for `/ws` and `/sse`, and
//! the endpoints that are never limited. The Redis runs use the shared Redis with their own key prefix.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp};
use crate::redis_support::{shared_redis, unique};

const SEND: &str = "/api/v1/notifications/broadcast";

fn body() -> Value {
    json!({"event_type": "e", "payload": {}})
}

/// `pairs` plus the backend's settings; `None` when the backend is absent and skipping is allowed.
async fn app(backend: &str, pairs: &[(&str, &str)]) -> Option<TestApp> {
    let mut all: Vec<(&str, String)> =
        vec![("RATELIMIT_ENABLED", "true".into()), ("RATELIMIT_BACKEND", backend.into())];
    if backend == "redis" {
        all.push(("REDIS_URL", shared_redis().await?));
        all.push(("RATELIMIT_REDIS_KEY_PREFIX", unique("ara-test-ratelimit") + ":"));
    }
    let mut pairs: Vec<(&str, &str)> = pairs.to_vec();
    pairs.extend(all.iter().map(|(k, v)| (*k, v.as_str())));
    Some(spawn_app(&pairs).await)
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header: {reply:?}"))
}

async fn burst_then_429_with_headers(backend: &str) {
    let limits = [("RATELIMIT_HTTP_REQUESTS_PER_SECOND", "1"), ("RATELIMIT_HTTP_BURST_SIZE", "3")];
    let Some(app) = app(backend, &limits).await else { return };
    for remaining in ["2", "1", "0"] {
        let reply = app.post(SEND, &body()).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!((header(&reply, "x-ratelimit-limit"), header(&reply, "x-ratelimit-remaining")), ("3", remaining));
        let reset: u64 = header(&reply, "x-ratelimit-reset").parse().unwrap();
        assert!((1..=3).contains(&reset), "reset {reset}");
    }
    let refused = app.post(SEND, &body()).await;
    refused.assert_error(429, "RATE_LIMIT_EXCEEDED");
    assert_eq!(refused.body["error"]["retry_after_seconds"], 1, "{}", refused.text);
    assert_eq!((header(&refused, "retry-after"), header(&refused, "x-ratelimit-remaining")), ("1", "0"));
    assert_eq!(header(&refused, "x-ratelimit-limit"), "3");
    assert_eq!(app.stats_unlimited().await, 3, "a refused request sends nothing");

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(app.post(SEND, &body()).await.status, 200, "one request per second comes back");
}

async fn api_key_and_client_ips_are_separate_budgets(backend: &str) {
    let pairs = [
        ("RATELIMIT_HTTP_REQUESTS_PER_SECOND", "1"),
        ("RATELIMIT_HTTP_BURST_SIZE", "2"),
        ("API_KEY", "the-key"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ];
    let Some(app) = app(backend, &pairs).await else { return };
    let post_from = |ip: &'static str, key: &'static str| {
        let request = app.client.post(app.url(SEND)).json(&body()).header("x-api-key", key);
        async move { request.header("x-forwarded-for", ip).send().await.unwrap().status().as_u16() }
    };
    // The key's budget, whatever the client IP.
    assert_eq!([post_from("10.0.0.1", "the-key").await, post_from("10.0.0.2", "the-key").await], [200, 200]);
    assert_eq!(post_from("10.0.0.3", "the-key").await, 429);
    // Wrong keys are limited per client IP (from X-Forwarded-For: the peer is a trusted proxy).
    assert_eq!([post_from("10.0.0.1", "nope").await, post_from("10.0.0.1", "nope").await], [401, 401]);
    assert_eq!(post_from("10.0.0.1", "nope").await, 429);
    assert_eq!(post_from("10.0.0.2", "nope").await, 401, "another IP has its own budget");
}

async fn forwarded_for_is_ignored_from_untrusted_peers(backend: &str) {
    let limits = [("RATELIMIT_HTTP_REQUESTS_PER_SECOND", "1"), ("RATELIMIT_HTTP_BURST_SIZE", "1")];
    let Some(app) = app(backend, &limits).await else { return };
    let post_as = |ip: &'static str| {
        let request = app.client.post(app.url(SEND)).json(&body()).header("x-forwarded-for", ip);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(post_as("10.0.0.1").await, 200);
    assert_eq!(post_as("10.0.0.2").await, 429, "a client cannot pick its own budget");
}

async fn connections_are_limited_per_ip(backend: &str) {
    let Some(app) = app(backend, &[("RATELIMIT_WS_CONNECTIONS_PER_MINUTE", "3")]).await else { return };
    let _first = app.connect_user("alice", "default").await;
    let _second = app.connect_user("bob", "default").await;
    let sse = app.client.get(app.url(&format!("/sse?token={}", app.token("carol", "default")))).send().await.unwrap();
    assert_eq!(sse.status(), 200, "SSE draws on the same budget");
    assert_eq!(sse.headers()["x-ratelimit-remaining"], "0");
    let refusal = app.try_connect_ws(Some(&app.token("dave", "default"))).await.err().expect("fourth refused");
    refusal.assert(429, "RATE_LIMIT_EXCEEDED");
    let sse = app.client.get(app.url(&format!("/sse?token={}", app.token("erin", "default")))).send().await.unwrap();
    assert_eq!(sse.status(), 429);
    // The HTTP API has a budget of its own.
    assert_eq!(app.post(SEND, &body()).await.status, 200);
}

async fn health_and_metrics_are_never_limited(backend: &str) {
    let limits = [("RATELIMIT_HTTP_REQUESTS_PER_SECOND", "1"), ("RATELIMIT_HTTP_BURST_SIZE", "1")];
    let Some(app) = app(backend, &limits).await else { return };
    for _ in 0..20 {
        let health = app.get("/health").await;
        assert_eq!(health.status, 200);
        assert!(health.headers.get("x-ratelimit-limit").is_none());
        assert_eq!(app.get("/metrics").await.status, 200);
    }
    let health = app.get("/health").await.body;
    assert_eq!(health["dependencies"]["rate_limiter"]["backend"], backend, "{health}");
    assert_eq!(health["dependencies"]["rate_limiter"]["status"], "healthy", "{health}");
}

impl TestApp {
    /// `notifications_sent` from `/stats`, read without touching the HTTP budget under test.
    async fn stats_unlimited(&self) -> u64 {
        let text = self.client.get(self.url("/metrics")).send().await.unwrap().text().await.unwrap();
        let sent = text
            .lines()
            .filter(|l| l.split(['{', ' ']).next().is_some_and(|m| m.ends_with("notifications_sent_total")));
        sent.filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok()).sum::<f64>() as u64
    }
}

macro_rules! rate_limit_suite {
    ($module:ident, $backend:literal) => {
        mod $module {
            #[tokio::test]
            async fn burst_then_429_with_headers() {
                super::burst_then_429_with_headers($backend).await;
            }
            #[tokio::test]
            async fn api_key_and_client_ips_are_separate_budgets() {
                super::api_key_and_client_ips_are_separate_budgets($backend).await;
            }
            #[tokio::test]
            async fn forwarded_for_is_ignored_from_untrusted_peers() {
                super::forwarded_for_is_ignored_from_untrusted_peers($backend).await;
            }
            #[tokio::test]
            async fn connections_are_limited_per_ip() {
                super::connections_are_limited_per_ip($backend).await;
            }
            #[tokio::test]
            async fn health_and_metrics_are_never_limited() {
                super::health_and_metrics_are_never_limited($backend).await;
            }
        }
    };
}

rate_limit_suite!(local, "local");
rate_limit_suite!(redis, "redis");

#[tokio::test]
async fn nodes_share_one_budget_on_redis() {
    let Some(url) = shared_redis().await else { return };
    let prefix = unique("ara-test-ratelimit") + ":";
    let pairs = [
        ("RATELIMIT_ENABLED", "true"),
        ("RATELIMIT_BACKEND", "redis"),
        ("REDIS_URL", url.as_str()),
        ("RATELIMIT_REDIS_KEY_PREFIX", prefix.as_str()),
        ("RATELIMIT_HTTP_REQUESTS_PER_SECOND", "1"),
        ("RATELIMIT_HTTP_BURST_SIZE", "4"),
    ];
    let (a, b) = (spawn_app(&pairs).await, spawn_app(&pairs).await);
    let mut statuses = Vec::new();
    for app in [&a, &b, &a, &b, &a, &b] {
        statuses.push(app.post(SEND, &body()).await.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429], "two nodes, one budget of 4");
}

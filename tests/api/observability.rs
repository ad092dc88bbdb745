//! `GET /metrics` after a scripted session, parsed as Prometheus text; `X-Request-Id` on every response.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use prometheus_parse::{Sample, Scrape, Value as Metric};
use serde_json::json;

use crate::helpers::{spawn_app, TestApp, POLL_DEADLINE};

struct Scraped {
    samples: Vec<Sample>,
    docs: HashMap<String, String>,
    text: String,
}

impl Scraped {
    /// The value of the sample `name` whose labels include `labels`; 0 when there is none yet.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => *v,
                other => panic!("{name} is not a plain sample: {other:?}"),
            })
            .sum()
    }

    fn has_family(&self, name: &str) -> bool {
        self.docs.contains_key(name)
    }

    fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        self.samples
            .iter()
            .filter(|s| s.metric == name)
            .filter_map(|s| s.labels.get(label).map(str::to_owned))
            .collect()
    }
}

async fn scrape(app: &TestApp) -> Scraped {
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let content_type = reply.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let parsed = Scrape::parse(reply.text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text parses");
    assert!(!parsed.samples.is_empty());
    Scraped { samples: parsed.samples, docs: parsed.docs, text: reply.text }
}

#[tokio::test]
async fn metrics_follow_a_scripted_session() {
    let app = spawn_app(&[]).await;
    let before = scrape(&app).await;

    let mut alice = app.connect_user("alice-obs", "default").await;
    let mut bob = app.connect_user("bob-obs", "default").await;
    alice.subscribe(&["news-obs"]).await;
    bob.subscribe(&["news-obs", "sports-obs"]).await;

    let first = app.send_to_user("alice-obs", "obs.user", json!({})).await;
    assert_eq!(first.delivered_to, 1);
    let n = alice.recv_notification().await;
    let users = app
        .send(
            "/api/v1/notifications/send-to-users",
            &json!({"target_user_ids": ["alice-obs", "bob-obs"], "event_type": "obs.users"}),
        )
        .await;
    assert_eq!(users.delivered_to, 2);
    app.broadcast("obs.broadcast", json!({})).await;
    app.send_to_channel("news-obs", "obs.channel", json!({})).await;
    let channels = app
        .send(
            "/api/v1/notifications/channels",
            &json!({"channels": ["news-obs", "sports-obs"], "event_type": "obs.channels"}),
        )
        .await;
    assert_eq!(channels.delivered_to, 2);
    let queued = app.send_to_user("ghost-obs", "obs.offline", json!({})).await;
    assert_eq!(queued.offline_users, 1);
    for _ in 0..4 {
        bob.recv_notification().await;
    }
    for _ in 0..4 {
        alice.recv_notification().await;
    }
    alice.send_json(&json!({"type": "Ack", "payload": {"notification_id": n["id"]}})).await;
    alice.recv_type("acked").await;
    let batch = app
        .post(
            "/api/v1/notifications/batch",
            &json!({"notifications": [
                {"target": {"type": "user", "id": "bob-obs"}, "event_type": "obs.batch"},
                {"target": {"type": "channel", "name": "sports-obs"}, "event_type": "obs.batch"},
            ]}),
        )
        .await;
    assert_eq!(batch.status, 200, "{}", batch.text);
    bob.recv_notification().await;
    bob.recv_notification().await;
    app.get("/api/v1/no-such-route").await.assert_error(404, "NOT_FOUND");
    assert_eq!(app.get("/api/v1/users/alice-obs/subscriptions").await.status, 200);

    let live = scrape(&app).await;
    for family in [
        "ara_http_requests_total",
        "ara_http_request_duration_seconds",
        "ara_connections_opened_total",
        "ara_connections",
        "ara_notifications_sent_total",
        "ara_delivery_events_total",
        "ara_delivery_latency_seconds",
        "ara_websocket_frames_received_total",
        "ara_acks_received_total",
        "ara_batch_requests_total",
        "ara_batch_size",
        "ara_queue_messages",
        "ara_acks_pending",
    ] {
        assert!(live.has_family(family), "no {family} family in /metrics");
    }
    let delta = |name: &str, labels: &[(&str, &str)]| live.value(name, labels) - before.value(name, labels);

    // HTTP: counted by route template and status, never by raw path.
    let send = [("method", "POST"), ("route", "/api/v1/notifications/send"), ("status", "200")];
    assert_eq!(delta("ara_http_requests_total", &send), 2.0);
    assert_eq!(delta("ara_http_requests_total", &[("route", "/api/v1/notifications/batch"), ("status", "200")]), 1.0);
    assert_eq!(delta("ara_http_requests_total", &[("status", "404")]), 1.0);
    let subscriptions = [("route", "/api/v1/users/:user_id/subscriptions"), ("status", "200")];
    assert_eq!(delta("ara_http_requests_total", &subscriptions), 1.0);
    for line in live.text.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            !line.contains("-obs") && !line.contains("no-such-route"),
            "a raw id or path leaked into a label: {line}"
        );
    }
    assert!(!live.label_values("ara_http_requests_total", "route").is_empty());

    // Connections.
    assert_eq!(delta("ara_connections_opened_total", &[("transport", "websocket")]), 2.0);
    assert_eq!(live.value("ara_connections", &[("transport", "websocket")]), 2.0);
    assert_eq!(live.value("ara_connections", &[("transport", "sse")]), 0.0);

    // Notifications by target type, and deliveries.
    for (target, sent) in [("user", 3.0), ("users", 1.0), ("broadcast", 1.0), ("channel", 2.0), ("channels", 1.0)] {
        assert_eq!(delta("ara_notifications_sent_total", &[("target", target)]), sent, "target {target}");
    }
    // 1 + 2 + 2 (broadcast) + 2 (channel) + 2 (channels) + 2 (batch).
    assert_eq!(delta("ara_delivery_events_total", &[("event", "delivered")]), 11.0);
    assert_eq!(delta("ara_delivery_events_total", &[("event", "queued")]), 1.0);

    // Client frames and ACKs.
    assert_eq!(delta("ara_websocket_frames_received_total", &[("type", "subscribe")]), 2.0);
    assert_eq!(delta("ara_websocket_frames_received_total", &[("type", "ack")]), 1.0);
    assert_eq!(delta("ara_acks_received_total", &[("result", "acked")]), 1.0);
    assert!(live.value("ara_ack_latency_seconds_count", &[]) >= 1.0);

    // Batch, offline queue and pending ACKs (alice's and bob's user-targeted sends minus alice's ACK).
    assert_eq!(delta("ara_batch_requests_total", &[]), 1.0);
    assert_eq!(delta("ara_batch_size_count", &[]), 1.0);
    assert_eq!(live.value("ara_queue_messages", &[]), 1.0);
    assert_eq!(live.value("ara_queue_users", &[]), 1.0);
    assert!(live.value("ara_acks_pending", &[]) >= 3.0, "pending ACKs: {}", live.value("ara_acks_pending", &[]));

    // Delivery latency is merged per connection about once a second, and when the connection ends.
    alice.close().await;
    bob.close().await;
    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        let after = scrape(&app).await;
        let written = after.value("ara_delivery_latency_seconds_count", &[]);
        let closed = after.value("ara_connections_closed_total", &[("transport", "websocket")]);
        if written >= 11.0 && closed == 2.0 {
            assert_eq!(after.value("ara_connections", &[("transport", "websocket")]), 0.0);
            assert_eq!(after.value("ara_connection_duration_seconds_count", &[("transport", "websocket")]), 2.0);
            break;
        }
        assert!(Instant::now() < deadline, "delivery latency never reached 11 samples ({written}), closed {closed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app(&[]).await;
    let given = app.client.get(app.url("/health")).header("x-request-id", "caller-id-1").send().await.unwrap();
    assert_eq!(given.headers()["x-request-id"], "caller-id-1");

    let unsafe_id = app.client.get(app.url("/health")).header("x-request-id", "a b").send().await.unwrap();
    assert_ne!(unsafe_id.headers()["x-request-id"], "a b");

    let generated = app.post("/api/v1/notifications/broadcast", &json!({"event_type": "obs.id"})).await;
    assert_eq!(generated.status, 200, "{}", generated.text);
    let first = uuid::Uuid::parse_str(generated.headers["x-request-id"].to_str().unwrap()).unwrap();
    assert_eq!(first.get_version_num(), 7);
    let again = app.post("/api/v1/notifications/broadcast", &json!({"event_type": "obs.id"})).await;
    assert_ne!(again.headers["x-request-id"].to_str().unwrap(), first.to_string(), "each request gets its own id");

    // Errors, refused upgrades and CORS pre-flights too.
    for reply in [app.get("/nowhere").await, app.get("/ws").await, app.get("/metrics").await] {
        assert!(reply.headers.contains_key("x-request-id"), "{} without X-Request-Id", reply.status);
    }
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/notifications/send"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-request-id,traceparent")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert!(preflight.headers().contains_key("x-request-id"));
    let allowed = preflight.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(allowed.contains("x-request-id") && allowed.contains("traceparent"), "{allowed}");
}

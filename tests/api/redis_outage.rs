//! Redis killed and restarted under traffic, on a private `redis-server`: sends to local connections
//! keep working and never wait past the Redis timeout, the breaker opens, the rate limiter falls back
//! to local budgets, `/health` stays 200 and says so; when Redis is back everything recovers by
//! itself, including the Pub/Sub trigger.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::pubsub::{app_with_pubsub, wait_for_health};
use crate::redis_support::{publish_json, RedisServer};

const CHANNEL: &str = "ara:notifications";
/// REDIS_TIMEOUT_MS below: no request may take much longer than this.
const REDIS_TIMEOUT: Duration = Duration::from_millis(300);

fn to_alice(event_type: &str) -> Value {
    json!({"target": {"type": "user", "id": "alice"}, "event_type": event_type})
}

/// Sends to alice over HTTP until `stop`; returns every (status, rate-limit header present, latency).
async fn traffic(client: reqwest::Client, url: String, stop: Arc<AtomicBool>) -> Vec<(u16, bool, Duration)> {
    let mut seen = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let body = json!({"target_user_id": "alice", "event_type": "traffic", "payload": {}});
        let reply = client.post(&url).json(&body).send().await.expect("the server answers");
        seen.push((reply.status().as_u16(), reply.headers().contains_key("x-ratelimit-limit"), started.elapsed()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    seen
}

#[tokio::test]
async fn redis_outage_degrades_and_recovers_by_itself() {
    let Some(mut redis) = RedisServer::start().await else { return };
    let url = redis.url();
    let timeout_ms = REDIS_TIMEOUT.as_millis().to_string();
    let app = app_with_pubsub(
        &url,
        CHANNEL,
        &[
            ("RATELIMIT_ENABLED", "true"),
            ("RATELIMIT_BACKEND", "redis"),
            ("RATELIMIT_HTTP_REQUESTS_PER_SECOND", "1000"),
            ("RATELIMIT_HTTP_BURST_SIZE", "1000"),
            ("REDIS_TIMEOUT_MS", &timeout_ms),
            ("REDIS_BREAKER_FAILURE_THRESHOLD", "2"),
            ("REDIS_BREAKER_SUCCESS_THRESHOLD", "1"),
            ("REDIS_BREAKER_OPEN_MS", "500"),
            ("REDIS_RECONNECT_MIN_DELAY_MS", "50"),
            ("REDIS_RECONNECT_MAX_DELAY_MS", "400"),
        ],
    )
    .await;
    let mut alice = app.connect_user("alice", "default").await;
    publish_json(&url, CHANNEL, &to_alice("before")).await;
    assert_eq!(alice.recv_notification().await["event_type"], "before");

    let stop = Arc::new(AtomicBool::new(false));
    let sender = tokio::spawn(traffic(app.client.clone(), app.url("/api/v1/notifications/send"), stop.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;

    redis.kill();
    // Each dependency notices on its own: the breaker on the next calls, the subscriber when its
    // connection ends.
    let down = wait_for_health(&app, "Redis down with an open breaker, Pub/Sub unsubscribed", |h| {
        h["dependencies"]["redis"] == json!({"status": "down", "breaker": "open"})
            && h["dependencies"]["pubsub"]["subscribed"] == false
    })
    .await;
    assert_eq!(down["status"], "degraded", "{down}");
    assert_eq!(
        down["dependencies"]["rate_limiter"],
        json!({"status": "degraded", "backend": "redis", "fallback": true})
    );
    assert_eq!(down["dependencies"]["pubsub"]["subscribed"], false, "{down}");
    let reply = app.get("/health").await;
    assert_eq!(reply.status, 200, "Ara still delivers locally: {}", reply.text);
    tokio::time::sleep(Duration::from_millis(500)).await;

    redis.restart().await;
    wait_for_health(&app, "everything healthy again", |h| {
        h["status"] == "healthy"
            && h["dependencies"]["redis"] == json!({"status": "healthy", "breaker": "closed"})
            && h["dependencies"]["pubsub"]["subscribed"] == true
            && h["dependencies"]["rate_limiter"]["fallback"] == false
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = sender.await.expect("traffic task");

    // Every send during the outage succeeded, was rate limited (by the fallback), and did not hang.
    assert!(seen.len() > 20, "traffic ran: {} requests", seen.len());
    assert!(
        seen.iter().all(|(status, _, _)| *status == 200),
        "statuses: {:?}",
        seen.iter().map(|s| s.0).collect::<Vec<_>>()
    );
    assert!(seen.iter().all(|(_, limited, _)| *limited), "every response carries X-RateLimit-*");
    let slowest = seen.iter().map(|s| s.2).max().unwrap_or_default();
    assert!(slowest < REDIS_TIMEOUT + Duration::from_millis(700), "slowest send took {slowest:?}");
    let mut delivered = 0;
    while let Some(frame) = alice.next_within(Duration::from_millis(300)).await {
        if matches!(frame, crate::helpers::Incoming::Json(ref v) if v["event_type"] == "traffic") {
            delivered += 1;
        }
    }
    assert_eq!(delivered, seen.len(), "every send reached the local connection");

    // The Pub/Sub trigger resubscribed by itself.
    publish_json(&url, CHANNEL, &to_alice("after")).await;
    assert_eq!(alice.recv_notification().await["event_type"], "after");

    let stats = app.stats().await;
    let (redis_stats, pubsub) = (&stats["redis"], &stats["pubsub"]);
    assert!(redis_stats["reconnects"].as_u64() >= Some(1), "{stats}");
    assert!(redis_stats["breaker_opened"].as_u64() >= Some(1), "{stats}");
    assert_eq!(redis_stats["breaker"], "closed", "{stats}");
    assert!(pubsub["reconnects"].as_u64() >= Some(1), "{stats}");
    assert!(stats["rate_limiter"]["outages"].as_u64() >= Some(1), "{stats}");
    assert!(stats["rate_limiter"]["fallback_checks"].as_u64() >= Some(1), "{stats}");
}

#[tokio::test]
async fn starts_without_redis_and_connects_when_it_appears() {
    let Some(mut redis) = RedisServer::start().await else { return };
    redis.kill();
    let url = redis.url();
    let app = crate::helpers::spawn_app(&[
        ("RATELIMIT_ENABLED", "true"),
        ("RATELIMIT_BACKEND", "redis"),
        ("REDIS_URL", &url),
        ("REDIS_PUBSUB_ENABLED", "true"),
        ("REDIS_TIMEOUT_MS", "300"),
        ("REDIS_BREAKER_OPEN_MS", "300"),
        ("REDIS_RECONNECT_MIN_DELAY_MS", "50"),
        ("REDIS_RECONNECT_MAX_DELAY_MS", "300"),
    ])
    .await;
    let health = app.get("/health").await;
    assert_eq!((health.status.as_u16(), &health.body["status"]), (200, &json!("degraded")), "{}", health.text);
    assert_eq!(app.post("/api/v1/notifications/broadcast", &json!({"event_type": "e"})).await.status, 200);

    redis.restart().await;
    wait_for_health(&app, "healthy once Redis is there", |h| h["status"] == "healthy").await;
    let mut alice = app.connect_user("alice", "default").await;
    publish_json(&url, CHANNEL, &to_alice("late")).await;
    assert_eq!(alice.recv_notification().await["event_type"], "late");
}

/// A subscription Redis drops (`CLIENT KILL TYPE pubsub`) while the server stays up is noticed at
/// once, counted, shown in `/health` until the subscriber is back, and then delivery resumes.
#[tokio::test]
async fn a_killed_subscription_is_counted_shown_and_resubscribed() {
    let Some(redis) = RedisServer::start().await else { return };
    let url = redis.url();
    // A resubscribe delay long enough for `/health` to be seen while the subscription is gone.
    let app = app_with_pubsub(
        &url,
        CHANNEL,
        &[("REDIS_RECONNECT_MIN_DELAY_MS", "1500"), ("REDIS_RECONNECT_MAX_DELAY_MS", "3000")],
    )
    .await;
    let mut alice = app.connect_user("alice", "default").await;
    publish_json(&url, CHANNEL, &to_alice("before")).await;
    assert_eq!(alice.recv_notification().await["event_type"], "before");
    assert_eq!(app.stats().await["pubsub"]["subscriptions_lost"], 0);

    let client = redis::Client::open(url.as_str()).expect("a Redis URL");
    let mut con = client.get_multiplexed_async_connection().await.expect("Redis answers");
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut con).await.unwrap();
    assert_eq!(killed, 1, "Ara's subscriber was the one pubsub client");

    let down =
        wait_for_health(&app, "the subscription gone", |h| h["dependencies"]["pubsub"]["subscribed"] == false).await;
    assert_eq!((&down["status"], &down["dependencies"]["pubsub"]["status"]), (&json!("degraded"), &json!("down")));
    let stats = app.stats().await;
    assert_eq!(stats["pubsub"]["subscriptions_lost"], 1, "{stats}");
    let metrics = app.get("/metrics").await.text;
    assert!(metrics.lines().any(|l| l == "ara_pubsub_subscriptions_lost_total 1"), "{metrics}");

    wait_for_health(&app, "subscribed again", |h| h["dependencies"]["pubsub"]["subscribed"] == true).await;
    publish_json(&url, CHANNEL, &to_alice("after")).await;
    assert_eq!(alice.recv_notification().await["event_type"], "after");
    let stats = app.stats().await;
    let pubsub = &stats["pubsub"];
    assert_eq!((pubsub["reconnects"].as_u64(), pubsub["subscriptions_lost"].as_u64()), (Some(1), Some(1)), "{stats}");
}

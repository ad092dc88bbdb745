//! `/health/live` says the process answers; `/health/ready` says this node can deliver: its stores
//! answer and, with the Pub/Sub trigger on, its subscription is proven by a canary that comes back in
//! time. A dependency cut off (a link that hangs, not one that refuses) turns the node not ready within
//! seconds, and ready again by itself when the link is back.

use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;

use crate::fault_proxy::FaultProxy;
use crate::helpers::{spawn_app, TestApp};
use crate::redis_support::{publish_json, RedisServer};
use crate::support_backends;

/// Polls `/health/ready` until its status is `want`; returns the body and how long it took.
async fn ready_becomes(app: &TestApp, want: &str, within: Duration) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let reply = app.get("/health/ready").await;
        let expected_code = if want == "ready" { 200 } else { 503 };
        if reply.body["status"] == want {
            assert_eq!(reply.status.as_u16(), expected_code, "{}", reply.text);
            return (reply.body, started.elapsed());
        }
        assert!(started.elapsed() < within, "/health/ready never became {want} within {within:?}: {}", reply.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn liveness_and_readiness_with_memory_stores() {
    let app = spawn_app(&[]).await;
    let live = app.get("/health/live").await;
    assert_eq!((live.status.as_u16(), &live.body["status"]), (200, &json!("alive")), "{}", live.text);
    let (ready, _) = ready_becomes(&app, "ready", Duration::from_secs(2)).await;
    assert_eq!(ready["checks"]["template_store"], "healthy", "{ready}");
}

#[tokio::test]
async fn a_hung_postgres_makes_the_node_not_ready_and_it_recovers_by_itself() {
    let Some((pool, cleanup)) = support_backends::postgres_database().await else { return };
    pool.close().await;
    let support_backends::Cleanup::Database { admin_url, name } = &cleanup else {
        panic!("postgres_database returns a database clean-up")
    };
    let direct = support_backends::with_database(admin_url, name);
    let options = PgConnectOptions::from_str(&direct).expect("a Postgres URL");
    let proxy = FaultProxy::start(&format!("{}:{}", options.get_host(), options.get_port())).await;
    let url = proxy.url_via(&direct);
    let app = spawn_app(&[("QUEUE_BACKEND", "postgres"), ("DATABASE_URL", &url), ("DATABASE_TIMEOUT_MS", "500")]).await;
    ready_becomes(&app, "ready", Duration::from_secs(5)).await;

    proxy.cut();
    let (not_ready, took) = ready_becomes(&app, "not_ready", Duration::from_secs(5)).await;
    assert_eq!(not_ready["checks"]["offline_queue"], "down", "{not_ready}");
    println!("not ready {took:?} after the cut");
    let live = app.get("/health/live").await;
    assert_eq!(live.status, 200, "the process still answers: {}", live.text);

    proxy.restore();
    let (_, took) = ready_becomes(&app, "ready", Duration::from_secs(15)).await;
    println!("ready again {took:?} after the restore");
    drop(app);
    drop(cleanup);
}

#[tokio::test]
async fn a_subscription_cut_off_from_redis_turns_the_node_not_ready_then_ready_and_delivering() {
    let Some(redis) = RedisServer::start().await else { return };
    let proxy = FaultProxy::start(&format!("127.0.0.1:{}", redis.port)).await;
    let url = proxy.url_via(&redis.url());
    let channel = "ara:notifications";
    let app = spawn_app(&[
        ("REDIS_URL", url.as_str()),
        ("REDIS_PUBSUB_ENABLED", "true"),
        ("REDIS_CHANNELS", channel),
        ("REDIS_PUBSUB_CANARY_INTERVAL_MS", "200"),
        ("REDIS_TIMEOUT_MS", "300"),
        ("REDIS_RECONNECT_MIN_DELAY_MS", "50"),
        ("REDIS_RECONNECT_MAX_DELAY_MS", "300"),
        ("REDIS_BREAKER_OPEN_MS", "300"),
    ])
    .await;
    let (ready, _) = ready_becomes(&app, "ready", Duration::from_secs(5)).await;
    assert_eq!(ready["checks"]["pubsub"]["subscribed"], true, "{ready}");
    let mut alice = app.connect_user("alice", "default").await;

    // The link goes silent: nothing closes, the canary simply stops coming back.
    proxy.cut();
    let (not_ready, took) = ready_becomes(&app, "not_ready", Duration::from_secs(5)).await;
    assert_eq!(not_ready["checks"]["pubsub"]["status"], "down", "{not_ready}");
    println!("not ready {took:?} after the subscription was cut off");

    proxy.restore();
    let (_, took) = ready_becomes(&app, "ready", Duration::from_secs(15)).await;
    println!("ready again {took:?} after the link came back");
    let message = json!({"target": {"type": "user", "id": "alice"}, "event_type": "after"});
    assert_eq!(publish_json(&redis.url(), channel, &message).await, 1, "exactly this node is subscribed again");
    assert_eq!(alice.recv_notification().await["event_type"], "after", "delivering again, without a restart");
    let stats = app.stats().await;
    assert!(stats["pubsub"]["subscriptions_lost"].as_u64() >= Some(1), "the loss was counted: {stats}");
}

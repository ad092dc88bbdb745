//! End to end, across a crash: notifications queued for an offline user on a durable backend survive a
//! SIGKILL of the server and are replayed once each, in order, after it restarts.
//!
//! These tests run the real `ara` binary as a child process and talk to it over HTTP and WebSocket.

// Shared with the contract suites, which use more of it.
#[allow(dead_code)]
mod support_backends;

// The chaos suite's handle on the binary (spawn on a fixed port, SIGKILL, restart, drain a queue).
#[allow(dead_code)]
#[path = "chaos/ara.rs"]
mod ara;

use std::time::Duration;

use ara::Ara;
use uuid::Uuid;

async fn send(ara: &Ara, user: &str, seq: usize) {
    let body = serde_json::json!({"target_user_id": user, "event_type": "restart.test", "payload": {"seq": seq}});
    let r = ara.http().post(ara.url("/api/v1/notifications/send")).json(&body).send().await.expect("send request");
    assert!(r.status().is_success(), "send failed: {}", r.status());
    let report: serde_json::Value = r.json().await.expect("send response");
    assert_eq!(report["queued"], 1, "the user is offline, so the notification must be queued: {report}");
}

async fn queued_messages_survive_sigkill(env: Vec<(&str, String)>) {
    let user = format!("offline-{}", Uuid::now_v7().simple());
    let mut server = Ara::start(&env).await;
    for seq in 0..25 {
        send(&server, &user, seq).await;
    }
    // SIGKILL (no graceful shutdown, nothing flushed), then the same binary on the same port.
    server.restart().await;
    let got = server.drain(&user).await;
    let seqs: Vec<u64> = got.iter().filter_map(|f| f["payload"]["seq"].as_u64()).collect();
    assert_eq!(seqs, (0..25).collect::<Vec<u64>>(), "every queued notification once, in order");

    // Replayed entries were removed once written: a second connection gets nothing more.
    let again = server.drain(&user).await;
    assert!(again.is_empty(), "replayed twice: {again:?}");
    server.kill_hard();
}

#[tokio::test]
async fn redis_queue_survives_sigkill() {
    let (url, prefix, _cleanup) = support_backends::redis_target();
    if let Err(e) =
        redis::Client::open(url.as_str()).and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
    {
        if support_backends::unavailable::<()>("Redis", support_backends::REDIS_VARIABLE, e).is_none() {
            return;
        }
    }
    let prefix = format!("{prefix}:");
    queued_messages_survive_sigkill(vec![
        ("QUEUE_BACKEND", "redis".into()),
        ("ACK_BACKEND", "redis".into()),
        ("REDIS_URL", url),
        ("QUEUE_REDIS_KEY_PREFIX", prefix.clone()),
        ("ACK_REDIS_KEY_PREFIX", format!("{prefix}ack:")),
    ])
    .await;
}

#[tokio::test]
async fn postgres_queue_survives_sigkill() {
    let Some((pool, cleanup)) = support_backends::postgres_database().await else { return };
    let url = match &cleanup {
        support_backends::Cleanup::Database { admin_url, name } => support_backends::with_database(admin_url, name),
        support_backends::Cleanup::RedisPrefix { .. } => unreachable!("a database cleanup"),
    };
    pool.close().await;
    queued_messages_survive_sigkill(vec![
        ("QUEUE_BACKEND", "postgres".into()),
        ("ACK_BACKEND", "postgres".into()),
        ("DATABASE_URL", url),
    ])
    .await;
    drop(cleanup);
}

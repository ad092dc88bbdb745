//! A queue or ACK store that hangs (a Postgres table locked by another session, a Redis paused with
//! `CLIENT PAUSE`) or is gone (a killed `redis-server`): every request still answers within about one
//! store timeout, with a structured 503 saying what was and was not queued; a connect does not wait
//! behind pending sends; everything works again once the store is back.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::redis_support::RedisServer;
use crate::support_backends;

/// The store timeout the apps below run with (`DATABASE_TIMEOUT_MS`, `REDIS_TIMEOUT_MS`).
const STORE_TIMEOUT_MS: u64 = 500;
/// What "about one store timeout" may take on a loaded CI machine.
const ANSWER_BOUND: Duration = Duration::from_millis(STORE_TIMEOUT_MS * 5);

/// Sends to `user` `n` times at once; returns each (status, body, time to answer).
async fn concurrent_sends(app: &TestApp, user: &str, n: usize) -> Vec<(u16, Value, Duration)> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (client, url) = (app.client.clone(), app.url("/api/v1/notifications/send"));
            let body = json!({"target_user_id": user, "event_type": "outage", "payload": {"i": i}});
            tokio::spawn(async move {
                let started = Instant::now();
                let reply = client.post(url).json(&body).send().await.expect("the server answers");
                let status = reply.status().as_u16();
                let body: Value = reply.json().await.unwrap_or(Value::Null);
                (status, body, started.elapsed())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("the send task ran"));
    }
    answers
}

/// Every send answered in time: refused because the queue could not take it, or — once the user's
/// connect went through — delivered live. At least one met the hung store.
fn assert_all_answered_in_time(answers: &[(u16, Value, Duration)]) {
    for (status, body, took) in answers {
        match status {
            503 => {
                assert_eq!(body["error"]["code"], "QUEUE_UNAVAILABLE", "{body}");
                assert_eq!(body["error"]["details"]["not_queued"], 1, "{body}");
            }
            200 => assert_eq!(body["delivered_to"], 1, "a send that succeeded reached the connected user: {body}"),
            _ => panic!("unexpected answer {status}: {body}"),
        }
        assert!(*took < ANSWER_BOUND, "a send took {took:?} (bound {ANSWER_BOUND:?}): {body}");
    }
    assert!(answers.iter().any(|(status, ..)| *status == 503), "no send met the hung store: {answers:?}");
}

/// Sends to `user` `n` times at once and, while they wait on the store, connects `user`.
async fn sends_then_connect(app: &TestApp, user: &str, n: usize) -> (Vec<(u16, Value, Duration)>, Duration) {
    let sends = concurrent_sends(app, user, n);
    let connect = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        timed_connect(app, user).await
    };
    tokio::join!(sends, connect)
}

/// Connects `user` and times it; the connect must succeed.
async fn timed_connect(app: &TestApp, user: &str) -> Duration {
    let started = Instant::now();
    let client = app.connect_user(user, "default").await;
    let took = started.elapsed();
    client.close().await;
    took
}

#[tokio::test]
async fn a_hung_postgres_queue_answers_every_send_and_connect_within_one_timeout() {
    let Some((pool, cleanup)) = support_backends::postgres_database().await else { return };
    let support_backends::Cleanup::Database { admin_url, name } = &cleanup else {
        panic!("postgres_database returns a database clean-up")
    };
    let url = support_backends::with_database(admin_url, name);
    let timeout = STORE_TIMEOUT_MS.to_string();
    let app = spawn_app(&[
        ("QUEUE_ENABLED", "true"),
        ("QUEUE_BACKEND", "postgres"),
        ("DATABASE_URL", url.as_str()),
        ("DATABASE_TIMEOUT_MS", timeout.as_str()),
    ])
    .await;
    // Another session holds the queue table: every statement on it waits, as on a stuck database.
    let mut locker = pool.begin().await.expect("a transaction");
    sqlx::query("LOCK TABLE offline_queue IN ACCESS EXCLUSIVE MODE").execute(&mut *locker).await.expect("lock");

    let (answers, connected_in) = sends_then_connect(&app, "bob", 6).await;
    assert_all_answered_in_time(&answers);
    assert!(connected_in < ANSWER_BOUND, "the connect waited {connected_in:?} behind the sends");

    locker.rollback().await.expect("unlock");
    let report = app.send_to_user("carol", "after", json!({})).await;
    assert_eq!((report.offline_users, report.queued), (1, 1), "the store works again");
    // Postgres cancelled what Ara gave up on: a refused send was not queued after all.
    let stats = app.stats().await;
    assert_eq!(stats["queue"]["users_with_queue"], 1, "only carol has a queue: {stats}");
    let mut carol = app.connect_user("carol", "default").await;
    assert_eq!(carol.recv_notification().await["event_type"], "after");
    drop(cleanup);
}

async fn app_on_redis(redis: &RedisServer) -> TestApp {
    let url = redis.url();
    let timeout = STORE_TIMEOUT_MS.to_string();
    spawn_app(&[
        ("QUEUE_ENABLED", "true"),
        ("QUEUE_BACKEND", "redis"),
        ("ACK_BACKEND", "redis"),
        ("REDIS_URL", url.as_str()),
        ("REDIS_TIMEOUT_MS", timeout.as_str()),
        ("REDIS_BREAKER_OPEN_MS", "500"),
        ("REDIS_RECONNECT_MIN_DELAY_MS", "50"),
        ("REDIS_RECONNECT_MAX_DELAY_MS", "200"),
    ])
    .await
}

/// Pauses every client of `redis` for `ms`: commands hang without an error, as on a stuck server.
async fn pause(redis: &RedisServer, ms: u64) {
    let client = redis::Client::open(redis.url()).expect("a Redis URL");
    let mut con = client.get_multiplexed_async_connection().await.expect("Redis answers");
    redis::cmd("CLIENT").arg("PAUSE").arg(ms).arg("ALL").query_async::<()>(&mut con).await.expect("CLIENT PAUSE");
}

#[tokio::test]
async fn a_hung_redis_queue_answers_every_send_and_connect_within_one_timeout() {
    let Some(redis) = RedisServer::start().await else { return };
    let app = app_on_redis(&redis).await;
    pause(&redis, 4_000).await;
    let (answers, connected_in) = sends_then_connect(&app, "bob", 10).await;
    assert_all_answered_in_time(&answers);
    assert!(connected_in < ANSWER_BOUND, "the connect waited {connected_in:?} behind the sends");
}

/// The body of a send to `count` offline users.
fn to_many(count: usize) -> Value {
    let users: Vec<String> = (0..count).map(|i| format!("offline-{i}")).collect();
    json!({"target_user_ids": users, "event_type": "many", "payload": {}})
}

async fn assert_send_to_many_refused_in_time(app: &TestApp) {
    let started = Instant::now();
    let reply = app.post("/api/v1/notifications/send-to-users", &to_many(1000)).await;
    let took = started.elapsed();
    reply.assert_error(503, "QUEUE_UNAVAILABLE");
    let details = &reply.body["error"]["details"];
    assert_eq!(
        (details["offline_users"].as_u64(), details["queued"].as_u64()),
        (Some(1000), Some(0)),
        "{}",
        reply.text
    );
    assert_eq!(details["not_queued"], 1000, "{}", reply.text);
    assert!(took < ANSWER_BOUND, "a 1,000-user send took {took:?} during the outage (bound {ANSWER_BOUND:?})");
}

#[tokio::test]
async fn a_send_to_a_thousand_offline_users_answers_within_one_timeout_while_redis_hangs_or_is_gone() {
    let Some(mut redis) = RedisServer::start().await else { return };
    let app = app_on_redis(&redis).await;
    pause(&redis, 3_000).await;
    assert_send_to_many_refused_in_time(&app).await;

    redis.kill();
    assert_send_to_many_refused_in_time(&app).await;

    // Back: the shared connection reconnects and the breaker closes by itself.
    redis.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = app.post("/api/v1/notifications/send-to-users", &to_many(3)).await;
        if reply.status == 200 {
            assert_eq!(reply.body["queued"], 3, "{}", reply.text);
            break;
        }
        assert!(Instant::now() < deadline, "the queue never recovered: {}", reply.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

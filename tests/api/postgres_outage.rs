//! Postgres hanging (not refusing: the link goes silent) under every Postgres store at once: `/health`
//! still answers within a second, says which stores are down, and is healthy again once Postgres
//! answers. Uses a fresh database from `ARA_TEST_DATABASE_URL` behind a [`FaultProxy`].

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;

use crate::fault_proxy::FaultProxy;
use crate::helpers::spawn_app;
use crate::pubsub::wait_for_health;
use crate::support_backends;

const STORES: [&str; 3] = ["offline_queue", "ack_store", "template_store"];

#[tokio::test]
async fn health_answers_within_a_second_while_postgres_hangs() {
    let Some((pool, cleanup)) = support_backends::postgres_database().await else { return };
    pool.close().await;
    let support_backends::Cleanup::Database { admin_url, name } = &cleanup else {
        panic!("postgres_database returns a database clean-up")
    };
    let direct = support_backends::with_database(admin_url, name);
    let options = PgConnectOptions::from_str(&direct).expect("a Postgres URL");
    let proxy = FaultProxy::start(&format!("{}:{}", options.get_host(), options.get_port())).await;
    let url = proxy.url_via(&direct);
    let app = spawn_app(&[
        ("QUEUE_BACKEND", "postgres"),
        ("ACK_BACKEND", "postgres"),
        ("TEMPLATE_BACKEND", "postgres"),
        ("DATABASE_URL", &url),
    ])
    .await;
    let healthy = app.get("/health").await;
    assert_eq!(healthy.body["status"], "healthy", "{}", healthy.text);

    proxy.cut();
    // Twice: the second finds the pool's connections already stuck.
    for attempt in 1..=2 {
        let started = Instant::now();
        let reply = app.get("/health").await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "attempt {attempt}: /health took {took:?}");
        assert_eq!((reply.status.as_u16(), &reply.body["status"]), (200, &"degraded".into()), "{}", reply.text);
        for store in STORES {
            assert_eq!(reply.body["dependencies"][store], "down", "{store}: {}", reply.text);
        }
    }

    proxy.restore();
    let back = wait_for_health(&app, "healthy once Postgres answers", |h| h["status"] == "healthy").await;
    for store in STORES {
        assert_eq!(back["dependencies"][store], "healthy", "{store}: {back}");
    }
    drop(app);
    drop(cleanup);
}

//! With `TEMPLATE_BACKEND=postgres`, templates are configuration that survives a restart. Uses a fresh
//! database from `ARA_TEST_DATABASE_URL` (fails when Postgres is unreachable, unless
//! `ARA_SKIP_BACKEND_TESTS=1`).

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::{call, create, order_shipped, shipped_payload, shipped_variables};
use crate::helpers::spawn_app;
use crate::support_backends;

#[tokio::test]
async fn templates_survive_a_restart_on_postgres() {
    let Some((pool, cleanup)) = support_backends::postgres_database().await else { return };
    pool.close().await;
    let support_backends::Cleanup::Database { admin_url, name } = &cleanup else {
        panic!("postgres_database returns a database clean-up")
    };
    let url = support_backends::with_database(admin_url, name);
    let pairs = [("TEMPLATE_BACKEND", "postgres"), ("DATABASE_URL", url.as_str())];

    let mut first = spawn_app(&pairs).await;
    let created = create(&first, &order_shipped()).await;
    first.stop(Duration::from_secs(10)).await.expect("the first server stops cleanly");

    let second = spawn_app(&pairs).await;
    let got = call(&second, Method::GET, "/api/v1/templates/order-shipped", None).await;
    assert_eq!((got.status.as_u16(), &got.body), (200, &created), "the template came back whole");
    let health = second.get("/health").await;
    assert_eq!(health.body["dependencies"]["template_store"], "healthy", "{}", health.text);
    let mut alice = second.connect_user("alice", "default").await;
    let body = json!({"target_user_id": "alice", "template_id": "order-shipped", "variables": shipped_variables()});
    second.send("/api/v1/notifications/send", &body).await;
    assert_eq!(alice.recv_notification().await["payload"], shipped_payload());
    drop(second);
    drop(cleanup);
}

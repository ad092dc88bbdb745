//! Tenants on Postgres: two nodes share the store; what one changes (a tenant, a key, a suspension,
//! a limit) reaches the other within `TENANT_CACHE_REFRESH_SECONDS`, and a restart keeps it all.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, POLL_DEADLINE};
use crate::support_backends::{postgres_database, with_database, Cleanup};
use crate::tenants::{admin, send_as, spawn_tenants, tenant_with_key};

async fn node(url: &str) -> TestApp {
    spawn_tenants(&[("TENANT_BACKEND", "postgres"), ("DATABASE_URL", url), ("TENANT_CACHE_REFRESH_SECONDS", "1")]).await
}

/// Polls until `check` holds on `app`.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + POLL_DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_reaches_the_other_and_survives_a_restart() {
    let Some((pool, cleanup)) = postgres_database().await else { return };
    pool.close().await;
    let Cleanup::Database { admin_url, name } = &cleanup else { panic!("a database clean-up") };
    let url = with_database(admin_url, name);
    let one = node(&url).await;
    let two = node(&url).await;

    let key = tenant_with_key(&one, "acme", json!({"max_connections": 1})).await;
    let body = json!({"event_type": "e"});
    eventually("node two knows the tenant and its key", || async {
        send_as(&two, &key, "/api/v1/notifications/broadcast", &body).await.status == 200
    })
    .await;
    let first = two.connect_user("alice", "acme").await;
    let full = two.try_connect_ws(Some(&two.token("bob", "acme"))).await.err().expect("refused");
    assert_eq!(full.body["error"]["quota"], "max_connections", "node two applies the limit set on node one");

    let mut on_two = first;
    assert_eq!(admin(&one, Method::POST, "/api/v1/tenants/acme/suspend", None).await.status, 200);
    eventually("node two refuses the suspended tenant", || async {
        send_as(&two, &key, "/api/v1/notifications/broadcast", &body).await.status == 403
    })
    .await;
    let (close, _) = on_two.recv_close(Duration::from_secs(5)).await;
    assert_eq!(close.map(|c| c.0), Some(4403), "node two closed its connection of the suspended tenant");
    assert_eq!(admin(&one, Method::POST, "/api/v1/tenants/acme/activate", None).await.status, 200);

    drop((one, two));
    let again = node(&url).await;
    assert_eq!(send_as(&again, &key, "/api/v1/notifications/broadcast", &body).await.status, 200, "the key survived");
    let view = admin(&again, Method::GET, "/api/v1/tenants/acme", None).await;
    assert_eq!(view.body["quotas"]["connections"]["limit"], 1, "{}", view.text);
}

//! Tenant connection quotas hold across the cluster, and the Tenant API counts the whole cluster:
//! two nodes, a tenant limited to 3 connections and 2 per user; users and channels counted once
//! however many nodes hold them.

use std::time::Duration;

use serde_json::json;

use crate::node::{eventually, Client, Cluster, Node, ADMIN_KEY};
use crate::redis_support::shared_redis;

fn tenants(cluster: Cluster) -> Cluster {
    cluster
        .with("TENANT_ENABLED", "true")
        .with("ADMIN_API_KEY", ADMIN_KEY)
        .with("TENANT_DEFAULT_MAX_CONNECTIONS", "3")
        .with("TENANT_DEFAULT_MAX_CONNECTIONS_PER_USER", "2")
}

/// Waits until `node` counts `connections` of the tenant across the cluster.
async fn tenant_connections(node: &Node, connections: u64) {
    eventually(&format!("{} counts {connections} connections", node.id), Duration::from_secs(5), || async {
        let (status, body) = node.get_as_admin("/api/v1/tenants/default").await;
        status == 200 && body["connections"] == connections
    })
    .await;
}

fn refused_for(refusal: Result<Client, (u16, serde_json::Value)>, quota: &str) {
    match refusal {
        Ok(client) => panic!("{} was let in beyond {quota}", client.user),
        Err((status, body)) => {
            assert_eq!(status, 429, "{body}");
            assert_eq!(body["error"]["code"], "TENANT_QUOTA_EXCEEDED", "{body}");
            assert_eq!(body["error"]["quota"], quota, "{body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_quotas_count_every_node_and_the_tenant_api_shows_the_cluster() {
    let Some(redis) = shared_redis().await else { return };
    let cluster = tenants(Cluster::new(&redis));
    let (n1, n2) = tokio::join!(cluster.start("node-1"), cluster.start("node-2"));

    let mut alice_1 = n1.connect("alice").await;
    alice_1.subscribe(&["news"]).await;
    let alice_2 = n2.connect("alice").await;
    tenant_connections(&n1, 2).await;
    refused_for(Client::try_connect(n1.port, "alice").await, "max_connections_per_user");
    refused_for(Client::try_connect(n2.port, "alice").await, "max_connections_per_user");

    let mut bob = n2.connect("bob").await;
    bob.subscribe(&["news", "sports"]).await;
    tenant_connections(&n1, 3).await;
    refused_for(Client::try_connect(n1.port, "carol").await, "max_connections");
    let (status, view) = n2.get_as_admin("/api/v1/tenants/default").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["connections"], 3, "the cluster's connections: {view}");
    assert_eq!(view["quotas"]["connections"], json!({"limit": 3, "used": 3}), "{view}");
    assert_eq!(view["users"], 2, "alice (on both nodes) and bob: {view}");
    eventually("news counted once though it has subscribers on both nodes", Duration::from_secs(5), || async {
        n1.get_as_admin("/api/v1/tenants/default").await.1["channels"] == 2
    })
    .await;

    // A place freed on node 2 is taken on node 1.
    bob.close();
    tenant_connections(&n1, 2).await;
    let carol = n1.connect("carol").await;
    alice_2.close();
    tenant_connections(&n2, 2).await;
    let alice_again = n1.connect("alice").await;

    for seq in 0..2 {
        n1.send_as_admin("carol", seq).await;
    }
    n2.send_as_admin("alice", 9).await;
    for node in [&n1, &n2] {
        eventually(&format!("{} counts the 3 messages of both nodes", node.id), Duration::from_secs(5), || async {
            let (_, body) = node.get_as_admin("/api/v1/tenants/default").await;
            body["messages_today"] == 3 && body["messages_total"] == 3
        })
        .await;
    }
    drop((alice_1, carol, alice_again));
}

/// With presence out of reach (Redis stopped) a node holds connects to its own counts instead of
/// refusing them, and the Tenant API answers with the node's own figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_out_of_reach_falls_back_to_the_nodes_own_counts() {
    let Some(mut redis) = crate::redis_support::RedisServer::start().await else { return };
    let cluster = tenants(Cluster::new(&redis.url()));
    let (mut n1, n2) = tokio::join!(cluster.start("node-1"), cluster.start("node-2"));
    let _on_two = n2.connect("alice").await;
    let _on_one = n1.connect("alice").await;
    tenant_connections(&n1, 2).await;
    refused_for(Client::try_connect(n1.port, "alice").await, "max_connections_per_user");

    redis.kill();
    n1.wait_ready(false, Duration::from_secs(5)).await;
    // Node 1 holds one of alice's connections, so its own count lets a second one in.
    let second = Client::try_connect(n1.port, "alice").await;
    assert!(second.is_ok(), "admitted on the node's own count: {:?}", second.err());
    refused_for(Client::try_connect(n1.port, "alice").await, "max_connections_per_user");
    let (status, view) = n1.get_as_admin("/api/v1/tenants/default").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["connections"], 2, "this node's own connections: {view}");
}

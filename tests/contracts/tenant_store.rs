//! The `TenantStore` contract (see `src/ports/tenant_store.rs`), run against every adapter. Postgres
//! reads `ARA_TEST_DATABASE_URL`; every test gets its own database.

use std::sync::Arc;

use crate::suite::contract_suite;

use crate::support_backends::{base_now, Opened};
use ara::adapters::{memory, postgres};
use ara::domain::tenant::hash_key;
use ara::domain::{Tenant, TenantId, TenantKey, TenantLimits, TenantStatus, TokenKey};
use ara::ports::{TenantStore, TenantStoreError};
use chrono::Duration;
use serde_json::json;

type Store = Opened<dyn TenantStore>;

trait Backend {
    async fn open() -> Option<Store>;
}

struct Memory;
struct Postgres;

impl Backend for Memory {
    async fn open() -> Option<Store> {
        Some(Opened::new(Arc::new(memory::MemoryTenantStore::new()), None))
    }
}

impl Backend for Postgres {
    async fn open() -> Option<Store> {
        let (pool, cleanup) = crate::support_backends::postgres_database().await?;
        Some(Opened::new(Arc::new(postgres::PostgresTenantStore::new(pool)), Some(cleanup)))
    }
}

fn id(raw: &str) -> TenantId {
    TenantId::parse(raw).unwrap()
}

fn rich_tenant(raw: &str) -> Tenant {
    let now = base_now();
    let mut t = Tenant::new(id(raw), now);
    t.name = "Acme Corp — ünïcode \"quoted\"".into();
    t.limits = TenantLimits {
        max_connections: Some(5000),
        max_connections_per_user: Some(10),
        max_subscriptions_per_connection: Some(7),
        sends_per_second: Some(100),
        send_burst: Some(200),
        max_payload_bytes: Some(4096),
        queue_max_per_user: Some(3),
        queue_ttl_seconds: Some(60),
    };
    t.metadata = json!({"plan": "gold", "nested": {"a": [1, 2.5, null, true]}}).as_object().unwrap().clone();
    t.token_keys = vec![
        TokenKey { kid: Some("k-1".into()), algorithm: "HS256".into(), key: "s3cret \"quoted\" ünï".into() },
        TokenKey {
            kid: None,
            algorithm: "RS256".into(),
            key: "-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n".into(),
        },
    ];
    t
}

fn key(tenant: &str, key_id: &str, offset_ms: i64) -> TenantKey {
    TenantKey {
        id: key_id.into(),
        tenant: id(tenant),
        hash: hash_key(&format!("secret-of-{key_id}")),
        created_at: base_now() + Duration::milliseconds(offset_ms),
        revoked_at: None,
    }
}

async fn a_tenant_reads_back_whole<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let tenant = rich_tenant("acme-corp");
    store.create(&tenant).await.unwrap();
    assert_eq!(store.list().await.unwrap(), vec![tenant]);
}

async fn ids_are_unique<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let first = rich_tenant("acme");
    store.create(&first).await.unwrap();
    let mut second = Tenant::new(id("acme"), base_now());
    second.name = "other".into();
    assert!(matches!(store.create(&second).await, Err(TenantStoreError::Duplicate(_))));
    assert_eq!(store.list().await.unwrap(), vec![first], "the stored one is unchanged");
}

async fn list_is_ordered_by_id<B: Backend>() {
    let Some(store) = B::open().await else { return };
    for raw in ["b", "c", "a"] {
        store.create(&Tenant::new(id(raw), base_now())).await.unwrap();
    }
    let ids: Vec<String> = store.list().await.unwrap().into_iter().map(|t| t.id.to_string()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
}

async fn update_replaces_all_but_id_and_created_at<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let original = rich_tenant("acme");
    store.create(&original).await.unwrap();
    let mut changed = Tenant::new(id("acme"), base_now() + Duration::seconds(60));
    changed.status = TenantStatus::Suspended;
    changed.name = "renamed".into();
    store.update(&changed).await.unwrap();
    let stored = store.list().await.unwrap().remove(0);
    assert_eq!(stored, Tenant { created_at: original.created_at, ..changed });
    let missing = Tenant::new(id("nobody"), base_now());
    assert!(matches!(store.update(&missing).await, Err(TenantStoreError::NotFound(_))));
}

async fn delete_takes_the_keys_with_it<B: Backend>() {
    let Some(store) = B::open().await else { return };
    store.create(&Tenant::new(id("a"), base_now())).await.unwrap();
    store.create(&Tenant::new(id("b"), base_now())).await.unwrap();
    store.add_key(&key("a", "00000000000000a1", 0)).await.unwrap();
    store.add_key(&key("b", "00000000000000b1", 0)).await.unwrap();
    store.delete(&id("a")).await.unwrap();
    let keys = store.keys().await.unwrap();
    assert_eq!(keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), ["00000000000000b1"]);
    assert!(matches!(store.delete(&id("a")).await, Err(TenantStoreError::NotFound(_))));
    // A tenant of the same id made afterwards has none of the old keys.
    store.create(&Tenant::new(id("a"), base_now())).await.unwrap();
    assert_eq!(store.keys().await.unwrap().len(), 1);
}

async fn keys_need_a_tenant_and_a_unique_id<B: Backend>() {
    let Some(store) = B::open().await else { return };
    assert!(matches!(store.add_key(&key("a", "00000000000000a1", 0)).await, Err(TenantStoreError::NotFound(_))));
    store.create(&Tenant::new(id("a"), base_now())).await.unwrap();
    store.create(&Tenant::new(id("b"), base_now())).await.unwrap();
    let first = key("a", "00000000000000a1", 0);
    store.add_key(&first).await.unwrap();
    let taken = key("b", "00000000000000a1", 0);
    assert!(matches!(store.add_key(&taken).await, Err(TenantStoreError::Duplicate(_))), "unique across tenants");
    assert_eq!(store.keys().await.unwrap(), vec![first]);
}

async fn keys_are_ordered_and_revocable<B: Backend>() {
    let Some(store) = B::open().await else { return };
    store.create(&Tenant::new(id("a"), base_now())).await.unwrap();
    store.create(&Tenant::new(id("b"), base_now())).await.unwrap();
    store.add_key(&key("b", "0000000000000001", 0)).await.unwrap();
    store.add_key(&key("a", "0000000000000003", 5)).await.unwrap();
    store.add_key(&key("a", "0000000000000002", 10)).await.unwrap();
    let order: Vec<String> = store.keys().await.unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(order, ["0000000000000003", "0000000000000002", "0000000000000001"]);
    let at = base_now() + Duration::seconds(30);
    store.revoke_key(&id("a"), "0000000000000002", at).await.unwrap();
    let keys = store.keys().await.unwrap();
    assert_eq!(keys[1].revoked_at, Some(at), "a revoked key stays listed with its time");
    assert_eq!(keys[0].revoked_at, None);
    let wrong_tenant = store.revoke_key(&id("b"), "0000000000000002", at).await;
    assert!(matches!(wrong_tenant, Err(TenantStoreError::NotFound(_))), "a key is revoked by its own tenant only");
    assert!(matches!(store.revoke_key(&id("a"), "ffffffffffffffff", at).await, Err(TenantStoreError::NotFound(_))));
}

async fn concurrent_creates_of_one_id_make_one_tenant<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut t = Tenant::new(id("race"), base_now());
                t.name = format!("writer {n}");
                store.create(&t).await.is_ok()
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1);
    assert_eq!(store.list().await.unwrap().len(), 1);
    store.check_health().await.unwrap();
}

contract_suite!([
    a_tenant_reads_back_whole,
    ids_are_unique,
    list_is_ordered_by_id,
    update_replaces_all_but_id_and_created_at,
    delete_takes_the_keys_with_it,
    keys_need_a_tenant_and_a_unique_id,
    keys_are_ordered_and_revocable,
    concurrent_creates_of_one_id_make_one_tenant,
] for on_memory => Memory, on_postgres => Postgres);

//! The `TemplateStore` contract (see `src/ports/template_store.rs`), run against every adapter.
//!
//! Each check is a generic async fn over a `Backend`; `contract_suite!` turns the whole list into
//! `#[tokio::test]`s for every backend. Postgres reads `ARA_TEST_DATABASE_URL`; every test gets its own
//! database, and an unreachable Postgres fails the test unless `ARA_SKIP_BACKEND_TESTS=1`.

use std::sync::Arc;

use crate::suite::contract_suite;

use crate::support_backends::{base_now, Opened};
use ara::adapters::{memory, postgres};
use ara::domain::{Priority, Template, TemplateId, TemplateSpec, TenantId};
use ara::ports::{TemplateStore, TemplateStoreError};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

type Store = Opened<dyn TemplateStore>;

/// Opens a fresh, empty store; `None` when the backend is absent and skipping is allowed.
trait Backend {
    async fn open() -> Option<Store>;
}

struct Memory;
struct Postgres;

impl Backend for Memory {
    async fn open() -> Option<Store> {
        Some(Opened::new(Arc::new(memory::MemoryTemplateStore::new()), None))
    }
}

impl Backend for Postgres {
    async fn open() -> Option<Store> {
        let (pool, cleanup) = crate::support_backends::postgres_database().await?;
        Some(Opened::new(Arc::new(postgres::PostgresTemplateStore::new(pool)), Some(cleanup)))
    }
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

fn id(raw: &str) -> TemplateId {
    TemplateId::parse(raw).unwrap()
}

/// A payload that exercises what JSON can hold: nesting, arrays, every scalar, unicode, escapes.
fn rich_payload() -> Value {
    json!({
        "title": "Order {{order_id}} shipped",
        "count": "{{n}}",
        "nested": {"deep": [1, 2.5, -3, true, false, null, {"x": "{{user.name}}"}]},
        "big": u64::MAX,
        "float": 0.1,
        "text": "héllo 🚀 \"quoted\" \\ back\nslash",
        "nul": "a\u{0000}b",
        "empty": {},
        "list": [],
    })
}

fn spec(name: &str, payload: Value, priority: Option<Priority>, ttl: Option<u32>) -> TemplateSpec {
    TemplateSpec::new(name.into(), "order.shipped".into(), payload, priority, ttl).unwrap()
}

fn template(raw_id: &str, at: DateTime<Utc>) -> Template {
    Template::new(id(raw_id), spec(&format!("Template {raw_id}"), json!({"id": raw_id}), None, None), at)
}

async fn create_then_get_round_trips<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (acme, now) = (tenant("acme"), base_now());
    let full = Template::new(id("full"), spec("Full", rich_payload(), Some(Priority::High), Some(86_400)), now);
    let bare = Template::new(id("bare"), spec("Bare", json!("just {{a}} string"), None, None), now);
    store.create(&acme, &full).await.unwrap();
    store.create(&acme, &bare).await.unwrap();

    assert_eq!(store.get(&acme, &full.id).await.unwrap(), Some(full));
    assert_eq!(store.get(&acme, &bare.id).await.unwrap(), Some(bare));
    assert_eq!(store.get(&acme, &id("missing")).await.unwrap(), None);
    for priority in [Priority::Low, Priority::Normal, Priority::Critical] {
        let t = Template::new(id(priority.as_str()), spec("p", json!({}), Some(priority), Some(1)), now);
        store.create(&acme, &t).await.unwrap();
        assert_eq!(store.get(&acme, &t.id).await.unwrap(), Some(t));
    }
}

async fn duplicate_create_is_refused_and_keeps_the_original<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (acme, now) = (tenant("acme"), base_now());
    let original = template("dup", now);
    store.create(&acme, &original).await.unwrap();
    let other = Template::new(id("dup"), spec("Other", json!({"other": true}), Some(Priority::Low), None), now);
    match store.create(&acme, &other).await {
        Err(TemplateStoreError::Duplicate(dup)) => assert_eq!(dup, original.id),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_eq!(store.get(&acme, &original.id).await.unwrap(), Some(original));
}

async fn list_is_per_tenant_and_ordered_by_id<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (acme, globex, now) = (tenant("acme"), tenant("globex"), base_now());
    assert!(store.list(&acme).await.unwrap().is_empty());
    // Byte order: digits, upper case, `_`, lower case; `-` before all of them.
    for raw in ["b", "a", "B", "a-1", "_x", "a_1", "0", "a1"] {
        store.create(&acme, &template(raw, now)).await.unwrap();
    }
    store.create(&globex, &template("g", now)).await.unwrap();
    let ids: Vec<String> = store.list(&acme).await.unwrap().into_iter().map(|t| t.id.to_string()).collect();
    assert_eq!(ids, ["0", "B", "_x", "a", "a-1", "a1", "a_1", "b"]);
    assert_eq!(store.list(&globex).await.unwrap(), [template("g", now)]);
}

async fn same_id_in_two_tenants_is_two_templates<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (acme, globex, now) = (tenant("acme"), tenant("globex"), base_now());
    let a = Template::new(id("welcome"), spec("A", json!({"who": "acme"}), None, None), now);
    let g = Template::new(id("welcome"), spec("G", json!({"who": "globex"}), Some(Priority::High), None), now);
    store.create(&acme, &a).await.unwrap();
    store.create(&globex, &g).await.unwrap();
    assert_eq!(store.get(&acme, &a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get(&globex, &g.id).await.unwrap(), Some(g));
    store.delete(&globex, &a.id).await.unwrap();
    assert_eq!(store.get(&globex, &a.id).await.unwrap(), None);
    assert_eq!(store.get(&acme, &a.id).await.unwrap(), Some(a), "deleting in globex leaves acme's");
    assert!(matches!(store.delete(&tenant("initech"), &id("welcome")).await, Err(TemplateStoreError::NotFound(_))));
}

async fn update_replaces_the_spec_and_keeps_created_at<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (acme, now) = (tenant("acme"), base_now());
    let original = Template::new(id("t"), spec("Old", json!({"v": 1}), Some(Priority::High), Some(60)), now);
    store.create(&acme, &original).await.unwrap();
    let later = now + Duration::milliseconds(1500);
    let new_spec = spec("New", rich_payload(), None, None);
    let updated = store.update(&acme, &original.id, &new_spec, later).await.unwrap();
    let expected = Template { id: original.id.clone(), spec: new_spec, created_at: now, updated_at: later };
    assert_eq!(updated, expected, "priority and ttl are cleared, not kept");
    assert_eq!(store.get(&acme, &original.id).await.unwrap(), Some(expected));
}

async fn update_of_an_unknown_template_is_not_found<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (acme, now) = (tenant("acme"), base_now());
    store.create(&tenant("globex"), &template("t", now)).await.unwrap();
    match store.update(&acme, &id("t"), &spec("x", json!({}), None, None), now).await {
        Err(TemplateStoreError::NotFound(missing)) => assert_eq!(missing.as_str(), "t"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(store.get(&acme, &id("t")).await.unwrap(), None, "update does not create");
}

async fn delete_removes_once<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (acme, now) = (tenant("acme"), base_now());
    store.create(&acme, &template("a", now)).await.unwrap();
    store.create(&acme, &template("b", now)).await.unwrap();
    store.delete(&acme, &id("a")).await.unwrap();
    assert_eq!(store.get(&acme, &id("a")).await.unwrap(), None);
    assert_eq!(store.list(&acme).await.unwrap(), [template("b", now)]);
    match store.delete(&acme, &id("a")).await {
        Err(TemplateStoreError::NotFound(missing)) => assert_eq!(missing.as_str(), "a"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    // The id is free again.
    store.create(&acme, &template("a", now)).await.unwrap();
}

/// Racing creates of one id: exactly one wins, the others see Duplicate.
async fn concurrent_creates_of_one_id_have_one_winner<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (acme, now) = (tenant("acme"), base_now());
    let mut racers = Vec::new();
    for n in 0..8 {
        let (store, acme) = (Arc::clone(&store.store), acme.clone());
        racers.push(tokio::spawn(async move {
            let t = Template::new(id("hot"), spec(&format!("racer {n}"), json!({"n": n}), None, None), now);
            store.create(&acme, &t).await.map(|()| t)
        }));
    }
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            Ok(t) => winners.push(t),
            Err(TemplateStoreError::Duplicate(_)) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create wins");
    assert_eq!(store.get(&acme, &id("hot")).await.unwrap(), winners.pop());
}

async fn health_is_ok<B: Backend>() {
    let Some(store) = B::open().await else { return };
    store.check_health().await.unwrap();
}

contract_suite!(
    [
        create_then_get_round_trips,
        duplicate_create_is_refused_and_keeps_the_original,
        list_is_per_tenant_and_ordered_by_id,
        same_id_in_two_tenants_is_two_templates,
        update_replaces_the_spec_and_keeps_created_at,
        update_of_an_unknown_template_is_not_found,
        delete_removes_once,
        concurrent_creates_of_one_id_have_one_winner,
        health_is_ok,
    ] for
    on_memory => Memory,
    on_postgres => Postgres,
);

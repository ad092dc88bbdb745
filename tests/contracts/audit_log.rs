//! The `AuditLog` contract (see `src/ports/audit.rs`), against memory and Postgres (its own database
//! per test, `ARA_TEST_DATABASE_URL`).

use std::sync::Arc;

use crate::suite::contract_suite;
use crate::support_backends::Opened;
use ara::adapters::memory::{LoggedAuditLog, MemoryAuditLog};
use ara::adapters::postgres::PostgresAuditLog;
use ara::domain::audit::AuditRecord;
use ara::domain::TenantId;
use ara::ports::AuditLog;

type Log = Opened<dyn AuditLog>;

trait Backend {
    async fn open() -> Option<Log>;
}

struct Memory;
struct Logged;
struct Postgres;

impl Backend for Memory {
    async fn open() -> Option<Log> {
        Some(Opened::new(Arc::new(MemoryAuditLog::new()), None))
    }
}

impl Backend for Logged {
    async fn open() -> Option<Log> {
        Some(Opened::new(Arc::new(LoggedAuditLog::new(Arc::new(MemoryAuditLog::new()))), None))
    }
}

impl Backend for Postgres {
    async fn open() -> Option<Log> {
        let (pool, cleanup) = crate::support_backends::postgres_database().await?;
        Some(Opened::new(Arc::new(PostgresAuditLog::new(pool)), Some(cleanup)))
    }
}

fn record(tenant: &str, action: &str, target: &str) -> AuditRecord {
    AuditRecord {
        at: crate::support_backends::base_now(),
        actor: "admin".into(),
        tenant: TenantId::parse(tenant).unwrap(),
        action: action.into(),
        target: target.into(),
        details: serde_json::json!({"reconnect": false, "n": 1}),
        source_ip: Some("127.0.0.1".into()),
        request_id: Some("req-1".into()),
    }
}

async fn records_come_back_newest_first_with_every_field<B: Backend>() {
    let Some(log) = B::open().await else { return };
    let kept = record("acme", "user.disconnect", "alice");
    let first = log.record(&kept).await.unwrap();
    let second = log.record(&record("acme", "token.revoke", "jti-1")).await.unwrap();
    assert!(second > first);
    let events = log.list(None, None, 10).await.unwrap();
    assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), vec![second, first]);
    assert_eq!(events[1].record, kept);
}

async fn pages_follow_the_cursor_and_tenants_filter<B: Backend>() {
    let Some(log) = B::open().await else { return };
    let mut ids = Vec::new();
    for i in 0..5 {
        let tenant = if i % 2 == 0 { "acme" } else { "globex" };
        ids.push(log.record(&record(tenant, "token.revoke", &format!("j{i}"))).await.unwrap());
    }
    let page = log.list(None, None, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[4], ids[3]]);
    let next = log.list(None, Some(ids[3]), 2).await.unwrap();
    assert_eq!(next.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[2], ids[1]]);
    let last = log.list(None, Some(ids[1]), 2).await.unwrap();
    assert_eq!(last.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[0]]);
    let acme = log.list(Some(&TenantId::parse("acme").unwrap()), None, 10).await.unwrap();
    assert_eq!(acme.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[4], ids[2], ids[0]]);
    assert!(log.list(Some(&TenantId::parse("nobody").unwrap()), None, 10).await.unwrap().is_empty());
}

async fn concurrent_records_get_distinct_ids<B: Backend>() {
    let Some(log) = B::open().await else { return };
    let log = Arc::new(log);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.record(&record("acme", "user.disconnect", &format!("u{i}"))).await.unwrap() })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert_eq!(log.list(None, None, 100).await.unwrap().len(), 20);
}

contract_suite!([
    records_come_back_newest_first_with_every_field,
    pages_follow_the_cursor_and_tenants_filter,
    concurrent_records_get_distinct_ids,
] for on_memory => Memory, on_logged => Logged, on_postgres => Postgres);

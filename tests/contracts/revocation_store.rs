//! The `RevocationStore` contract (see `src/ports/revocation.rs`), run against memory and Redis (the
//! shared connection with its breaker). Redis reads `ARA_TEST_REDIS_URL` and uses its own prefix.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use crate::suite::contract_suite;
use crate::support_backends::{user, Opened};
use ara::adapters::memory::MemoryRevocationStore;
use ara::adapters::redis::breaker::BreakerSettings;
use ara::adapters::redis::{RedisRevocationStore, ResilienceSettings, ResilientRedis};
use ara::domain::{Identity, TenantId, UserId, VerifiedToken};
use ara::ports::{Revocation, RevocationStore};
use chrono::{DateTime, Duration, Utc};

type Store = Opened<dyn RevocationStore>;

trait Backend {
    async fn open() -> Option<Store>;
}

struct Memory;
struct Redis;
struct RedisCluster;

impl Backend for Memory {
    async fn open() -> Option<Store> {
        Some(Opened::new(Arc::new(MemoryRevocationStore::new()), None))
    }
}

impl Backend for Redis {
    async fn open() -> Option<Store> {
        let (url, prefix, cleanup) = crate::support_backends::redis_target();
        let settings = ResilienceSettings {
            breaker: BreakerSettings {
                failure_threshold: 3,
                success_threshold: 1,
                open_duration: StdDuration::from_secs(30),
            },
            timeout: StdDuration::from_millis(500),
            reconnect_min_delay: StdDuration::from_millis(100),
            reconnect_max_delay: StdDuration::from_secs(1),
        };
        let redis = ResilientRedis::connect(&url, settings).await.expect("ARA_TEST_REDIS_URL is a Redis URL");
        if let Err(e) = redis.ping().await {
            return crate::support_backends::unavailable("Redis", crate::support_backends::REDIS_VARIABLE, e);
        }
        Some(Opened::new(Arc::new(RedisRevocationStore::new(redis, &prefix)), Some(cleanup)))
    }
}

impl Backend for RedisCluster {
    async fn open() -> Option<Store> {
        let (redis, prefix) = crate::redis_cluster::shared_connection().await?;
        Some(Opened::new(Arc::new(RedisRevocationStore::new(redis, &prefix)), None))
    }
}

fn token(tenant: &str, who: &str, jti: Option<&str>, iat: Option<DateTime<Utc>>) -> VerifiedToken {
    VerifiedToken {
        identity: Identity { tenant: TenantId::parse(tenant).unwrap(), user: UserId::parse(who).unwrap() },
        expires_at: Utc::now() + Duration::hours(1),
        issued_at: iat,
        jti: jti.map(str::to_owned),
        channels: vec![],
        channel: None,
        key_id: None,
    }
}

fn soon() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(10)
}

async fn a_revoked_jti_is_revoked_in_its_tenant_only<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let now = Utc::now();
    let t = token("acme", "alice", Some("j-1"), Some(now));
    assert!(!store.is_revoked(&t, now).await.unwrap());
    store
        .revoke(&Revocation::Token { tenant: TenantId::parse("acme").unwrap(), jti: "j-1".into() }, soon())
        .await
        .unwrap();
    assert!(store.is_revoked(&t, now).await.unwrap());
    assert!(!store.is_revoked(&token("globex", "alice", Some("j-1"), Some(now)), now).await.unwrap(), "other tenant");
    assert!(!store.is_revoked(&token("acme", "alice", Some("j-2"), Some(now)), now).await.unwrap(), "other jti");
    assert!(!store.is_revoked(&token("acme", "alice", None, Some(now)), now).await.unwrap(), "no jti");
}

async fn issued_before_covers_older_tokens_and_those_without_iat<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let moment = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    store.revoke(&Revocation::IssuedBefore { user: user("acme", "alice"), before: moment }, soon()).await.unwrap();
    let now = Utc::now();
    assert!(store.is_revoked(&token("acme", "alice", None, Some(moment - Duration::seconds(5))), now).await.unwrap());
    assert!(store.is_revoked(&token("acme", "alice", Some("x"), None), now).await.unwrap(), "no iat: covered");
    assert!(!store.is_revoked(&token("acme", "alice", None, Some(moment + Duration::seconds(1))), now).await.unwrap());
    assert!(!store.is_revoked(&token("acme", "bob", None, Some(moment - Duration::seconds(5))), now).await.unwrap());
    assert!(!store.is_revoked(&token("globex", "alice", None, None), now).await.unwrap());
    // An earlier moment later does not shorten the revocation.
    let earlier = moment - Duration::hours(1);
    store.revoke(&Revocation::IssuedBefore { user: user("acme", "alice"), before: earlier }, soon()).await.unwrap();
    assert!(store.is_revoked(&token("acme", "alice", None, Some(moment - Duration::seconds(5))), now).await.unwrap());
}

async fn revocations_are_forgotten_after_until<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let until = Utc::now() + Duration::milliseconds(300);
    store
        .revoke(&Revocation::Token { tenant: TenantId::parse("acme").unwrap(), jti: "short".into() }, until)
        .await
        .unwrap();
    let t = token("acme", "alice", Some("short"), None);
    assert!(store.is_revoked(&t, Utc::now()).await.unwrap());
    tokio::time::sleep(StdDuration::from_millis(600)).await;
    assert!(!store.is_revoked(&t, Utc::now()).await.unwrap(), "kept only until the token would expire");
}

async fn the_change_log_lists_revocations_in_order_from_a_cursor<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (none, start) = store.since(0, 100).await.unwrap();
    assert!(none.is_empty());
    let acme = TenantId::parse("acme").unwrap();
    let first = Revocation::Token { tenant: acme.clone(), jti: "a".into() };
    let moment = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    let second = Revocation::IssuedBefore { user: user("acme", "bob"), before: moment };
    let third = Revocation::Token { tenant: acme, jti: "c".into() };
    for r in [&first, &second, &third] {
        store.revoke(r, soon()).await.unwrap();
    }
    let (all, end) = store.since(start, 100).await.unwrap();
    assert_eq!(all, vec![first.clone(), second.clone(), third.clone()]);
    assert!(end > start);
    let (page, mid) = store.since(start, 2).await.unwrap();
    assert_eq!(page, vec![first, second]);
    let (rest, last) = store.since(mid, 100).await.unwrap();
    assert_eq!((rest, last), (vec![third], end));
    assert_eq!(store.since(end, 100).await.unwrap(), (vec![], end), "nothing new: same cursor");
}

async fn concurrent_revocations_all_land<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let acme = TenantId::parse("acme").unwrap();
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (store, acme) = (store.clone(), acme.clone());
            tokio::spawn(async move {
                store.revoke(&Revocation::Token { tenant: acme, jti: format!("j{i}") }, soon()).await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for i in 0..20 {
        assert!(store.is_revoked(&token("acme", "u", Some(&format!("j{i}")), None), Utc::now()).await.unwrap());
    }
    assert_eq!(store.since(0, 100).await.unwrap().0.len(), 20);
    store.check_health().await.unwrap();
}

contract_suite!([
    a_revoked_jti_is_revoked_in_its_tenant_only,
    issued_before_covers_older_tokens_and_those_without_iat,
    revocations_are_forgotten_after_until,
    the_change_log_lists_revocations_in_order_from_a_cursor,
    concurrent_revocations_all_land,
] for on_memory => Memory, on_redis => Redis, on_redis_cluster => RedisCluster);

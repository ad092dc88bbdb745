//! Shared set-up for the store contract suites: per-test isolated Postgres databases and Redis key
//! prefixes, the skip-or-fail rule for absent backends, and builders for test data.
//!
//! A backend that cannot be reached fails the test with a message saying which variable to set,
//! unless `ARA_SKIP_BACKEND_TESTS=1`, which turns it into a loud "SKIPPED" line on stderr.

use std::fmt::Display;
use std::ops::Deref;
use std::str::FromStr;
use std::sync::Arc;

use ara::domain::{Notification, NotificationDraft, TenantId, UserId, UserKey};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};
use uuid::Uuid;

const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A store under test and whatever removes its data once the test ends (even by a panic).
pub struct Opened<T: ?Sized> {
    pub store: Arc<T>,
    _cleanup: Option<Cleanup>,
}

impl<T: ?Sized> Opened<T> {
    pub fn new(store: Arc<T>, cleanup: Option<Cleanup>) -> Self {
        Self { store, _cleanup: cleanup }
    }
}

impl<T: ?Sized> Deref for Opened<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.store
    }
}

/// Drops a test database or deletes a test key prefix when dropped.
pub enum Cleanup {
    Database { admin_url: String, name: String },
    RedisPrefix { url: String, prefix: String },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // Best effort: a failed clean-up must not hide the test's own outcome.
        match self {
            Cleanup::Database { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime, which cannot be blocked on; use a thread of its own.
                let dropping = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                    runtime.block_on(async {
                        let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        sqlx::query(&sql).execute(&mut admin).await.ok()
                    })
                });
                let _ = dropping.join();
            }
            Cleanup::RedisPrefix { url, prefix } => {
                let Ok(client) = redis::Client::open(url.as_str()) else { return };
                let Ok(mut con) = client.get_connection_with_timeout(std::time::Duration::from_secs(2)) else {
                    return;
                };
                let keys: Vec<String> = match redis::cmd("KEYS").arg(format!("{prefix}:*")).query(&mut con) {
                    Ok(keys) => keys,
                    Err(_) => return,
                };
                if !keys.is_empty() {
                    let _ = redis::cmd("DEL").arg(keys).query::<()>(&mut con);
                }
            }
        }
    }
}

/// The backend is absent: fail loudly, or skip when the environment asks for it.
pub fn unavailable<T>(backend: &str, variable: &str, error: impl Display) -> Option<T> {
    let message = format!("{backend} is unreachable ({error}); start it or set {variable}");
    if std::env::var("ARA_SKIP_BACKEND_TESTS").as_deref() == Ok("1") {
        eprintln!("SKIPPED: {message} (ARA_SKIP_BACKEND_TESTS=1)");
        return None;
    }
    panic!("{message}, or set ARA_SKIP_BACKEND_TESTS=1 to skip backend tests");
}

/// Creates a fresh database for one test, migrated by the adapter's own `connect`.
pub async fn postgres_database() -> Option<(PgPool, Cleanup)> {
    const VARIABLE: &str = "ARA_TEST_DATABASE_URL";
    let admin_url = std::env::var(VARIABLE).unwrap_or_else(|_| DEFAULT_DATABASE_URL.into());
    let name = format!("ara_test_{}", Uuid::now_v7().simple());
    let admin = PgConnectOptions::from_str(&admin_url).expect("ARA_TEST_DATABASE_URL is not a Postgres URL");
    let create = async {
        let mut con = admin.connect().await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut con).await
    };
    match tokio::time::timeout(std::time::Duration::from_secs(5), create).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return unavailable("Postgres", VARIABLE, e),
        Err(_) => return unavailable("Postgres", VARIABLE, "no answer within 5s"),
    }
    let cleanup = Cleanup::Database { admin_url: admin_url.clone(), name: name.clone() };
    let url = with_database(&admin_url, &name);
    match ara::adapters::postgres::connect(&url, 8, std::time::Duration::from_secs(5)).await {
        Ok(pool) => Some((pool, cleanup)),
        Err(e) => panic!("cannot open the test database {name}: {e}"),
    }
}

/// `admin_url` with its database path replaced by `name` (query parameters kept).
pub fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map_or((admin_url, ""), |(b, q)| (b, q));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    let query = if query.is_empty() { String::new() } else { format!("?{query}") };
    format!("{}/{name}{query}", &base[..path_start])
}

/// The Redis URL under test and a key prefix nobody else uses.
pub fn redis_target() -> (String, String, Cleanup) {
    let url = std::env::var("ARA_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.into());
    let prefix = format!("ara-test-{}", Uuid::now_v7().simple());
    let cleanup = Cleanup::RedisPrefix { url: url.clone(), prefix: prefix.clone() };
    (url, prefix, cleanup)
}

pub const REDIS_VARIABLE: &str = "ARA_TEST_REDIS_URL";

/// Now, truncated to the millisecond so that every backend stores it exactly.
pub fn base_now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}

pub fn user(tenant: &str, user: &str) -> UserKey {
    UserKey::new(TenantId::parse(tenant).unwrap(), UserId::parse(user).unwrap())
}

/// A notification of `tenant` created at `at`, carrying `n` in its payload and its own `ttl_seconds`.
pub fn notification(tenant: &str, n: u32, at: DateTime<Utc>, ttl_seconds: Option<u32>) -> Notification {
    NotificationDraft::new(
        TenantId::parse(tenant).unwrap(),
        "test.event".into(),
        serde_json::json!({ "n": n, "text": "héllo | pipes | and: colons" }),
        None,
        ttl_seconds,
        4096,
    )
    .unwrap()
    .accept(at)
}

//! Picks and opens the store adapter each port is configured to use. An unreachable store stops the
//! start-up with a message naming the setting; a durable store never silently falls back to memory.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use thiserror::Error;

use super::config::{Settings, StoreBackend, TemplateBackend};
use crate::adapters::redis::ResilientRedis;
use crate::adapters::{memory, postgres, redis};
use crate::domain::ErrorChain;
use crate::ports::{BoxError, DynAckStore, DynOfflineQueue, DynTemplateStore, Garbled};

/// Memory stores answer at once; this only bounds a bug.
const MEMORY_TIMEOUT: Duration = Duration::from_secs(1);
/// A Postgres call is given this much longer than `DATABASE_TIMEOUT_MS` before Ara stops waiting, so
/// that the server's own `statement_timeout` decides (and cancels) first: a refused send was not
/// queued after all. The margin only matters when the network, not the database, is what hangs.
const POSTGRES_MARGIN: Duration = Duration::from_millis(250);

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{setting}: cannot open the {backend} store")]
    Unavailable {
        setting: &'static str,
        backend: &'static str,
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    pub(super) fn said(setting: &'static str, backend: &'static str, why: impl Into<String>) -> Self {
        StoreError::Unavailable { setting, backend, source: Box::new(Garbled(why.into())) }
    }
}

/// Opened lazily, once, and shared by every store on Postgres.
#[derive(Default)]
struct Pools {
    postgres: Option<PgPool>,
}

/// An opened store and the bound on each of its calls.
pub struct Opened<T: ?Sized> {
    pub store: Arc<T>,
    pub timeout: Duration,
}

pub struct Stores {
    pub queue: Option<Opened<dyn crate::ports::OfflineQueue>>,
    pub acks: Option<Opened<dyn crate::ports::AckStore>>,
    /// Always open: a send may name a template whatever else is enabled.
    pub templates: DynTemplateStore,
    /// Open when `TENANT_ENABLED`.
    pub tenants: Option<crate::ports::DynTenantStore>,
}

/// Opens the stores; `redis` is the shared connection, open whenever a store uses Redis.
pub async fn open(settings: &Settings, redis: Option<&Arc<ResilientRedis>>) -> Result<Stores, StoreError> {
    let mut pools = Pools::default();
    let queue = if settings.queue.enabled { Some(open_queue(settings, redis, &mut pools).await?) } else { None };
    let acks = if settings.ack.enabled { Some(open_acks(settings, redis, &mut pools).await?) } else { None };
    let templates = open_templates(settings, &mut pools).await?;
    let tenants = if settings.tenant.enabled { Some(open_tenants(settings, &mut pools).await?) } else { None };
    Ok(Stores { queue, acks, templates, tenants })
}

/// A durable store must find Redis there at start; the shared connection does not insist.
async fn reachable_redis(
    redis: Option<&Arc<ResilientRedis>>,
    setting: &'static str,
) -> Result<Arc<ResilientRedis>, StoreError> {
    let redis =
        redis.ok_or_else(|| StoreError::said(setting, "redis (REDIS_URL)", "no Redis connection was opened"))?;
    redis.ping().await.map_err(|e| StoreError::Unavailable {
        setting,
        backend: "redis (REDIS_URL)",
        source: Box::new(Garbled(format!("Redis at {} does not answer: {}", redis.addr(), ErrorChain(&e)))),
    })?;
    Ok(redis.clone())
}

async fn open_queue(
    settings: &Settings,
    redis: Option<&Arc<ResilientRedis>>,
    pools: &mut Pools,
) -> Result<Opened<dyn crate::ports::OfflineQueue>, StoreError> {
    let fail = |backend, source| StoreError::Unavailable { setting: "QUEUE_BACKEND", backend, source };
    let (store, timeout): (DynOfflineQueue, Duration) = match settings.queue.backend {
        StoreBackend::Memory => (Arc::new(memory::MemoryOfflineQueue::new()), MEMORY_TIMEOUT),
        StoreBackend::Redis => {
            let redis = reachable_redis(redis, "QUEUE_BACKEND").await?;
            let timeout = redis.settings().timeout;
            (Arc::new(redis::RedisOfflineQueue::new(redis, &settings.queue.redis_key_prefix)), timeout)
        }
        StoreBackend::Postgres => {
            let pool = postgres_pool(settings, pools).await.map_err(|m| fail("postgres (DATABASE_URL)", m))?;
            (Arc::new(postgres::PostgresOfflineQueue::new(pool)), database_timeout(settings) + POSTGRES_MARGIN)
        }
    };
    Ok(Opened { store, timeout })
}

async fn open_acks(
    settings: &Settings,
    redis: Option<&Arc<ResilientRedis>>,
    pools: &mut Pools,
) -> Result<Opened<dyn crate::ports::AckStore>, StoreError> {
    let fail = |backend, source| StoreError::Unavailable { setting: "ACK_BACKEND", backend, source };
    let (store, timeout): (DynAckStore, Duration) = match settings.ack.backend {
        StoreBackend::Memory => {
            (Arc::new(memory::MemoryAckStore::with_max_records(settings.ack.max_records)), MEMORY_TIMEOUT)
        }
        StoreBackend::Redis => {
            let redis = reachable_redis(redis, "ACK_BACKEND").await?;
            let timeout = redis.settings().timeout;
            (Arc::new(redis::RedisAckStore::new(redis, &settings.ack.redis_key_prefix)), timeout)
        }
        StoreBackend::Postgres => {
            let pool = postgres_pool(settings, pools).await.map_err(|m| fail("postgres (DATABASE_URL)", m))?;
            (Arc::new(postgres::PostgresAckStore::new(pool)), database_timeout(settings) + POSTGRES_MARGIN)
        }
    };
    Ok(Opened { store, timeout })
}

async fn open_templates(settings: &Settings, pools: &mut Pools) -> Result<DynTemplateStore, StoreError> {
    Ok(match settings.template.backend {
        TemplateBackend::Memory => Arc::new(memory::MemoryTemplateStore::new()),
        TemplateBackend::Postgres => {
            let pool = postgres_pool(settings, pools).await.map_err(|source| StoreError::Unavailable {
                setting: "TEMPLATE_BACKEND",
                backend: "postgres (DATABASE_URL)",
                source,
            })?;
            Arc::new(postgres::PostgresTemplateStore::new(pool))
        }
    })
}

async fn open_tenants(settings: &Settings, pools: &mut Pools) -> Result<crate::ports::DynTenantStore, StoreError> {
    Ok(match settings.tenant.backend {
        super::config::TenantBackend::Memory => Arc::new(memory::MemoryTenantStore::new()),
        super::config::TenantBackend::Postgres => {
            let pool = postgres_pool(settings, pools).await.map_err(|source| StoreError::Unavailable {
                setting: "TENANT_BACKEND",
                backend: "postgres (DATABASE_URL)",
                source,
            })?;
            Arc::new(postgres::PostgresTenantStore::new(pool))
        }
    })
}

fn database_timeout(settings: &Settings) -> Duration {
    Duration::from_millis(settings.database.timeout_ms)
}

async fn postgres_pool(settings: &Settings, pools: &mut Pools) -> Result<PgPool, BoxError> {
    if let Some(pool) = &pools.postgres {
        return Ok(pool.clone());
    }
    let url = settings.database_url().unwrap_or_default();
    let pool = postgres::connect(url, settings.database.max_connections, database_timeout(settings))
        .await
        .map_err(|e| Box::new(e) as BoxError)?;
    pools.postgres = Some(pool.clone());
    Ok(pool)
}

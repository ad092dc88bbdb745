//! Picks and opens the store adapter each port is configured to use. An unreachable store stops the
//! start-up with a message naming the setting; a durable store never silently falls back to memory.

use std::sync::Arc;

use sqlx::PgPool;
use thiserror::Error;

use super::config::{Settings, StoreBackend, TemplateBackend};
use crate::adapters::{memory, postgres, redis};
use crate::domain::queue::QueuePolicy;
use crate::ports::{DynAckStore, DynOfflineQueue, DynTemplateStore};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{setting}: cannot open the {backend} store: {message}")]
    Unavailable { setting: &'static str, backend: &'static str, message: String },
}

/// Opened lazily, once, and shared by every store on Postgres.
#[derive(Default)]
struct Pools {
    postgres: Option<PgPool>,
}

pub struct Stores {
    pub queue: Option<(DynOfflineQueue, QueuePolicy)>,
    pub acks: Option<DynAckStore>,
    /// Always open: a send may name a template whatever else is enabled.
    pub templates: DynTemplateStore,
}

pub async fn open(settings: &Settings) -> Result<Stores, StoreError> {
    let mut pools = Pools::default();
    let queue = if settings.queue.enabled {
        let policy = QueuePolicy {
            max_per_user: settings.queue.max_size_per_user,
            message_ttl_seconds: settings.queue.message_ttl_seconds,
        };
        Some((open_queue(settings, policy, &mut pools).await?, policy))
    } else {
        None
    };
    let acks = if settings.ack.enabled { Some(open_acks(settings, &mut pools).await?) } else { None };
    let templates = open_templates(settings, &mut pools).await?;
    Ok(Stores { queue, acks, templates })
}

async fn open_queue(
    settings: &Settings,
    policy: QueuePolicy,
    pools: &mut Pools,
) -> Result<DynOfflineQueue, StoreError> {
    let fail = |backend, message: String| StoreError::Unavailable { setting: "QUEUE_BACKEND", backend, message };
    Ok(match settings.queue.backend {
        StoreBackend::Memory => Arc::new(memory::MemoryOfflineQueue::new(policy)),
        StoreBackend::Redis => {
            let url = settings.redis_url().unwrap_or_default();
            let store = redis::RedisOfflineQueue::connect(url, &settings.queue.redis_key_prefix, policy)
                .await
                .map_err(|e| fail("redis (REDIS_URL)", e.to_string()))?;
            Arc::new(store)
        }
        StoreBackend::Postgres => {
            let pool = postgres_pool(settings, pools).await.map_err(|m| fail("postgres (DATABASE_URL)", m))?;
            Arc::new(postgres::PostgresOfflineQueue::new(pool, policy))
        }
    })
}

async fn open_acks(settings: &Settings, pools: &mut Pools) -> Result<DynAckStore, StoreError> {
    let fail = |backend, message: String| StoreError::Unavailable { setting: "ACK_BACKEND", backend, message };
    Ok(match settings.ack.backend {
        StoreBackend::Memory => Arc::new(memory::MemoryAckStore::new()),
        StoreBackend::Redis => {
            let url = settings.redis_url().unwrap_or_default();
            let store = redis::RedisAckStore::connect(url, &settings.ack.redis_key_prefix)
                .await
                .map_err(|e| fail("redis (REDIS_URL)", e.to_string()))?;
            Arc::new(store)
        }
        StoreBackend::Postgres => {
            let pool = postgres_pool(settings, pools).await.map_err(|m| fail("postgres (DATABASE_URL)", m))?;
            Arc::new(postgres::PostgresAckStore::new(pool))
        }
    })
}

async fn open_templates(settings: &Settings, pools: &mut Pools) -> Result<DynTemplateStore, StoreError> {
    Ok(match settings.template.backend {
        TemplateBackend::Memory => Arc::new(memory::MemoryTemplateStore::new()),
        TemplateBackend::Postgres => {
            let pool = postgres_pool(settings, pools).await.map_err(|message| StoreError::Unavailable {
                setting: "TEMPLATE_BACKEND",
                backend: "postgres (DATABASE_URL)",
                message,
            })?;
            Arc::new(postgres::PostgresTemplateStore::new(pool))
        }
    })
}

async fn postgres_pool(settings: &Settings, pools: &mut Pools) -> Result<PgPool, String> {
    if let Some(pool) = &pools.postgres {
        return Ok(pool.clone());
    }
    let url = settings.database_url().unwrap_or_default();
    let pool = postgres::connect(url, settings.database.max_connections).await.map_err(|e| e.to_string())?;
    pools.postgres = Some(pool.clone());
    Ok(pool)
}

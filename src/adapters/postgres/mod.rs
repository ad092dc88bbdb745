//! Postgres stores: the offline queue, the ACK store and the template store, durable across restarts
//! and shared by nodes.
//!
//! [`connect`] opens the pool and applies the migrations in `migrations/`; the stores then take the
//! pool. Timestamps are kept with microsecond precision (what `timestamptz` holds).

mod ack_store;
mod offline_queue;
mod template_store;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use thiserror::Error;

pub use ack_store::PostgresAckStore;
pub use offline_queue::PostgresOfflineQueue;
pub use template_store::PostgresTemplateStore;

/// The schema the stores expect, embedded at build time (no database needed to compile).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long `connect` (and later every pool checkout) waits before reporting the database unreachable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the Postgres pool could not be opened. The URL is never echoed: it may carry a password.
#[derive(Debug, Error)]
pub enum PostgresConnectError {
    #[error("invalid Postgres URL: {0}")]
    InvalidUrl(#[source] sqlx::Error),
    #[error("cannot connect to Postgres at {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot apply the Postgres migrations: {0}")]
    Migrate(#[source] MigrateError),
}

/// Opens a pool of at most `max_connections` to `url`, proves one connection works, and applies the
/// pending migrations.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, PostgresConnectError> {
    let options = PgConnectOptions::from_str(url).map_err(PostgresConnectError::InvalidUrl)?;
    let target = format!("{}:{}/{}", options.get_host(), options.get_port(), options.get_database().unwrap_or(""));
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| PostgresConnectError::Connect { target, source })?;
    MIGRATOR.run(&pool).await.map_err(PostgresConnectError::Migrate)?;
    Ok(pool)
}

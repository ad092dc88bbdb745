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
/// pending migrations. `timeout` bounds the connect, every pool checkout and, on the server, every
/// statement (`statement_timeout`): a statement the caller gave up on is cancelled by Postgres rather
/// than committed later, so a store call that timed out did not happen.
pub async fn connect(url: &str, max_connections: u32, timeout: Duration) -> Result<PgPool, PostgresConnectError> {
    let options = PgConnectOptions::from_str(url).map_err(PostgresConnectError::InvalidUrl)?;
    let options = options.options([("statement_timeout", format!("{}ms", timeout.as_millis().max(1)))]);
    let target = format!("{}:{}/{}", options.get_host(), options.get_port(), options.get_database().unwrap_or(""));
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(timeout)
        .connect_with(options)
        .await
        .map_err(|source| PostgresConnectError::Connect { target, source })?;
    MIGRATOR.run(&pool).await.map_err(PostgresConnectError::Migrate)?;
    Ok(pool)
}

//! Postgres stores: the offline queue, the ACK store and the template store, durable across restarts
//! and shared by nodes.
//!
//! [`connect`] opens the pool and applies the migrations in `migrations/`; the stores then take the
//! pool. Timestamps are kept with microsecond precision (what `timestamptz` holds).

mod ack_store;
mod audit_log;
mod offline_queue;
mod template_store;
mod tenant_store;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use thiserror::Error;

pub use ack_store::PostgresAckStore;
pub use audit_log::PostgresAuditLog;
pub use offline_queue::PostgresOfflineQueue;
pub use template_store::PostgresTemplateStore;
pub use tenant_store::PostgresTenantStore;

/// What a failed statement means for the caller: the three kinds every store error has.
pub(crate) enum Failure {
    /// Not reachable now (connection, pool, the server cancelling a statement past its timeout).
    Unavailable(sqlx::Error),
    /// A value came back that cannot be read.
    Corrupt(sqlx::Error),
    /// Anything else: the statement was refused.
    Unexpected(sqlx::Error),
}

/// Classifies a sqlx error the same way for every store.
pub(crate) fn classify(e: sqlx::Error) -> Failure {
    // 57014: query_canceled (statement_timeout); 55P03: lock_not_available; 57P0x: the server is going
    // away or starting; 53300: too_many_connections.
    const UNAVAILABLE_CODES: &[&str] = &["57014", "55P03", "57P01", "57P02", "57P03", "53300"];
    match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Failure::Unavailable(e),
        sqlx::Error::Database(db) if db.code().is_some_and(|c| UNAVAILABLE_CODES.contains(&c.as_ref())) => {
            Failure::Unavailable(e)
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_) => {
            Failure::Corrupt(e)
        }
        _ => Failure::Unexpected(e),
    }
}

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

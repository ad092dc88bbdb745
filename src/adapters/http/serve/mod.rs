//! The accept loop: Ara's own instead of `axum::serve`, which has no header-read or idle timeout, no
//! cap per client address and no handle to drop one connection.
//!
//! - Each accepted socket gets `TCP_NODELAY` (notifications are small writes that must leave at once)
//!   and is checked against the per-address cap; over it, the client gets a minimal 429 written
//!   without waiting and the socket is closed — no task, no timer, no buffer.
//! - Accept errors never spin the loop: errors of one connection (reset before accept) are skipped;
//!   running out of descriptors or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`) and any other
//!   error sleep a little longer each time (10 ms doubling to 1 s, reset by the next success) and
//!   are logged at most every 5 s with a count. While it sleeps, new clients wait in the backlog.
//! - Shutdown: when `signal` completes the listener is closed, every connection finishes the
//!   request it is serving and closes, and `serve` returns once they have all ended.

mod connection;
mod per_ip;
#[cfg(test)]
mod tests;
mod tls;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use ipnet::IpNet;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use connection::ConnectionContext;
pub use connection::{ConnectionAbort, Timeouts};
use per_ip::PerIpLimit;
pub use tls::{ClientCertificate, TlsAcceptor, TlsError, TlsFiles};

use crate::ports::DynTransportMetrics;

const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
const LOG_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub timeouts: Timeouts,
    /// 0 = unlimited.
    pub max_connections_per_ip: usize,
    /// Peers never capped: `TRUSTED_PROXIES`, whose clients all share the proxy's address.
    pub uncapped: Vec<IpNet>,
    /// `None`: clear text.
    pub tls: Option<Arc<TlsAcceptor>>,
}

/// Serves `router` on `listener` until `signal` completes, then drains (see the module docs).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: ServeConfig,
    metrics: DynTransportMetrics,
    signal: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    // Our own watch replaces it (see `connection`); `None` also keeps hyper from wanting a timer.
    builder.header_read_timeout(None);
    let context = Arc::new(ConnectionContext {
        router,
        builder,
        timeouts: config.timeouts,
        draining: CancellationToken::new(),
        metrics: metrics.clone(),
        tls: config.tls,
    });
    let limit = PerIpLimit::new(config.max_connections_per_ip, config.uncapped);
    let refusal = refusal_response();
    let connections = TaskTracker::new();
    let mut backoff = BACKOFF_MIN;
    let mut errors = LogThrottle::default();
    let mut refusals = LogThrottle::default();
    let mut signal = pin!(signal);
    loop {
        let accepted = tokio::select! {
            _ = &mut signal => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_per_connection(&e) => {
                tracing::debug!(error = %e, "a connection failed before it was accepted");
                continue;
            }
            Err(e) => {
                if let Some(suppressed) = errors.tick(Instant::now()) {
                    if is_resource_exhaustion(&e) {
                        tracing::error!(error = %e, suppressed, backoff_ms = backoff.as_millis() as u64,
                            "cannot accept connections: out of resources; backing off");
                    } else {
                        tracing::warn!(error = %e, suppressed, "accept failed");
                    }
                }
                tokio::select! {
                    _ = &mut signal => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        backoff = BACKOFF_MIN;
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
        }
        match limit.acquire(peer.ip()) {
            Ok(slot) => {
                connections.spawn(connection::run(stream, peer, slot, context.clone()));
            }
            Err(per_ip::OverLimit) => {
                metrics.connection_refused("per_ip_limit");
                if let Some(suppressed) = refusals.tick(Instant::now()) {
                    tracing::warn!(ip = %peer.ip(), suppressed, "refusing connections over SERVER_MAX_CONNECTIONS_PER_IP");
                }
                refuse(stream, &refusal);
            }
        }
    }
    drop(listener);
    context.draining.cancel();
    connections.close();
    connections.wait().await;
}

/// Writes what fits without waiting (all of it, into a fresh socket's empty buffer) and closes.
fn refuse(stream: TcpStream, response: &[u8]) {
    let _ = stream.try_write(response);
}

fn refusal_response() -> Vec<u8> {
    let body = r#"{"error":{"code":"IP_CONNECTION_LIMIT","message":"too many open connections from this address"}}"#;
    format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The connection was lost between the handshake and `accept`; the listener is fine.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    ) || matches!(
        e.raw_os_error(),
        Some(libc::EPROTO | libc::EPERM | libc::ETIMEDOUT | libc::EHOSTUNREACH | libc::ENETUNREACH)
    )
}

fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}

/// At most one log line per [`LOG_EVERY`], counting the ones left out.
#[derive(Default)]
struct LogThrottle {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogThrottle {
    /// `Some(left out since the last line)` when a line may be logged now.
    fn tick(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|last| now < last + LOG_EVERY) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

//! Watches one SSE stream from outside. hyper polls the stream only while the client's socket takes
//! data, so a client that stops reading stops the stream too: it never sees its close signal, and a
//! `drop_oldest` ring never overflows. The watchdog sees both: a close asked for, after which the
//! connection leaves the registry at once and its TCP connection is dropped if the stream has not
//! ended within a grace period; and an event left unwritten for the write timeout, which counts as a
//! slow consumer.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::{CancellationToken, DropGuard};

use crate::adapters::http::ConnectionAbort;
use crate::delivery::CloseWatch;
use crate::ports::CloseReason;
use crate::service::ConnectionHandle;

/// How long a closing stream may take to write its last event before its connection is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What the stream tells its watchdog.
#[derive(Default)]
pub struct Progress {
    /// Set while the stream waits for something to send: a socket that takes nothing then is fine.
    waiting: AtomicBool,
    /// When the stream last handed an event over (Unix ms).
    handed_over_ms: AtomicI64,
}

impl Progress {
    pub fn waiting(&self) {
        self.waiting.store(true, Ordering::Relaxed);
    }

    pub fn handed_over(&self) {
        self.handed_over_ms.store(now_ms(), Ordering::Relaxed);
        self.waiting.store(false, Ordering::Relaxed);
    }

    fn stalled_for_ms(&self) -> i64 {
        if self.waiting.load(Ordering::Relaxed) {
            return 0;
        }
        now_ms() - self.handed_over_ms.load(Ordering::Relaxed)
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Held by the stream: dropping it (the stream ended, or hyper dropped it) unregisters the connection
/// and stops the watchdog.
pub struct StreamEnd {
    handle: Arc<ConnectionHandle>,
    _stop: DropGuard,
}

impl StreamEnd {
    pub fn handle(&self) -> &ConnectionHandle {
        &self.handle
    }
}

impl Drop for StreamEnd {
    fn drop(&mut self) {
        self.handle.release();
    }
}

/// Starts the watchdog of one stream; the stream keeps the returned guard.
pub fn spawn(
    handle: ConnectionHandle,
    close: CloseWatch,
    progress: Arc<Progress>,
    abort: Option<ConnectionAbort>,
) -> StreamEnd {
    let handle = Arc::new(handle);
    let stop = CancellationToken::new();
    progress.handed_over();
    let watched = Watched {
        handle: handle.clone(),
        close,
        progress,
        abort,
        stop: stop.clone(),
        write_timeout: handle.policy().write_timeout,
    };
    // Not in the connection task tracker: shutdown need not wait for a grace period of its own.
    tokio::spawn(watched.run());
    StreamEnd { handle, _stop: stop.drop_guard() }
}

struct Watched {
    handle: Arc<ConnectionHandle>,
    close: CloseWatch,
    progress: Arc<Progress>,
    abort: Option<ConnectionAbort>,
    stop: CancellationToken,
    write_timeout: Duration,
}

impl Watched {
    async fn run(self) {
        let every = (self.write_timeout / 4).max(Duration::from_millis(50));
        let limit_ms = self.write_timeout.as_millis() as i64;
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = self.close.closed() => break,
                _ = tokio::time::sleep(every) => {
                    if self.progress.stalled_for_ms() > limit_ms {
                        self.handle.stalled();
                        tracing::info!(
                            connection = %self.handle.id(),
                            "closing an SSE stream whose socket took nothing within the write timeout"
                        );
                        self.handle.close(CloseReason::SlowConsumer);
                        self.handle.release();
                        self.drop_connection();
                        return;
                    }
                }
            }
        }
        // Out of the registry now. The stream writes its final `error` event if the socket lets it,
        // and the response (sent with `Connection: close`) ends its connection; one whose client
        // stopped reading never gets that far, so the connection is dropped after the grace period
        // either way (a connection already gone is not touched).
        self.handle.release();
        tokio::time::sleep(CLOSE_GRACE).await;
        self.drop_connection();
    }

    fn drop_connection(&self) {
        match &self.abort {
            Some(abort) => abort.abort(),
            None => tracing::warn!("an SSE stream cannot be cut: its request came without a connection handle"),
        }
    }
}

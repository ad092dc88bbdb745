//! Store calls that never hold a request longer than their bound, and what one send learned about a
//! store that failed.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::Either;

use crate::ports::Timer;

/// A store call that did not answer within its bound.
#[derive(Debug, thiserror::Error)]
#[error("no answer from the store within {}ms", .0.as_millis())]
pub struct StoreTimedOut(pub Duration);

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs `work` within `limit`; `None` when the limit came first (and `work` was dropped).
pub async fn within<T>(timer: &dyn Timer, limit: Duration, work: impl Future<Output = T>) -> Option<T> {
    let work = std::pin::pin!(work);
    match futures_util::future::select(work, timer.sleep(limit)).await {
        Either::Left((done, _)) => Some(done),
        Either::Right(_) => None,
    }
}

/// Runs a store call within `limit`; a call past it counts as the store being unavailable.
pub async fn bounded<T, E>(
    timer: &dyn Timer,
    limit: Duration,
    call: impl Future<Output = Result<T, E>>,
    unavailable: impl FnOnce(BoxError) -> E,
) -> Result<T, E> {
    within(timer, limit, call).await.unwrap_or_else(|| Err(unavailable(Box::new(StoreTimedOut(limit)))))
}

/// What one send learned about its stores: once one failed, the rest of the send does not wait on it.
#[derive(Default)]
pub struct Outage {
    queue: AtomicBool,
    acks: AtomicBool,
}

impl Outage {
    pub fn queue_failed(&self) {
        self.queue.store(true, Ordering::Relaxed);
    }

    pub fn queue_down(&self) -> bool {
        self.queue.load(Ordering::Relaxed)
    }

    pub fn acks_failed(&self) {
        self.acks.store(true, Ordering::Relaxed);
    }

    pub fn acks_down(&self) -> bool {
        self.acks.load(Ordering::Relaxed)
    }
}

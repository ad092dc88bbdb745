//! Counters of the delivery core, shared lock-free between all request handlers.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct DeliveryStats {
    notifications_sent: AtomicU64,
    notifications_delivered: AtomicU64,
    notifications_queued: AtomicU64,
    slow_consumers_disconnected: AtomicU64,
    replayed: AtomicU64,
    queue_dropped: AtomicU64,
    queue_failures: AtomicU64,
    redelivered: AtomicU64,
}

/// A point-in-time copy of [`DeliveryStats`].
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct DeliverySnapshot {
    pub notifications_sent: u64,
    pub notifications_delivered: u64,
    pub notifications_queued: u64,
    pub slow_consumers_disconnected: u64,
    /// Queued notifications handed to a reconnecting user.
    pub notifications_replayed: u64,
    /// Queued notifications dropped because a user's queue overflowed.
    pub queue_dropped: u64,
    /// Notifications for offline users that the queue store failed to take.
    pub queue_failures: u64,
    /// Unacknowledged High/Critical notifications sent again (`ACK_REDELIVER`).
    pub notifications_redelivered: u64,
}

impl DeliveryStats {
    pub fn record_sent(&self) {
        self.notifications_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_delivered(&self, n: u64) {
        self.notifications_delivered.fetch_add(n, Ordering::Relaxed);
    }

    pub fn record_queued(&self, n: u64) {
        self.notifications_queued.fetch_add(n, Ordering::Relaxed);
    }

    pub fn record_slow_consumer(&self) {
        self.slow_consumers_disconnected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_replayed(&self, n: u64) {
        self.replayed.fetch_add(n, Ordering::Relaxed);
    }

    pub fn record_queue_dropped(&self, n: u64) {
        self.queue_dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub fn record_queue_failure(&self) {
        self.queue_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_redelivered(&self) {
        self.redelivered.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> DeliverySnapshot {
        DeliverySnapshot {
            notifications_sent: self.notifications_sent.load(Ordering::Relaxed),
            notifications_delivered: self.notifications_delivered.load(Ordering::Relaxed),
            notifications_queued: self.notifications_queued.load(Ordering::Relaxed),
            slow_consumers_disconnected: self.slow_consumers_disconnected.load(Ordering::Relaxed),
            notifications_replayed: self.replayed.load(Ordering::Relaxed),
            queue_dropped: self.queue_dropped.load(Ordering::Relaxed),
            queue_failures: self.queue_failures.load(Ordering::Relaxed),
            notifications_redelivered: self.redelivered.load(Ordering::Relaxed),
        }
    }
}

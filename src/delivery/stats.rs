//! Counters of the delivery core, shared lock-free between all request handlers. Each is one relaxed
//! atomic add per event (per dispatch, never per recipient); `/stats` and `/metrics` read them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::domain::Target;

/// The target kinds, in the order of [`DeliveryStats::sent_by_target`].
pub const TARGET_KINDS: [&str; 5] = ["user", "users", "broadcast", "channel", "channels"];

fn target_index(target: &Target) -> usize {
    match target {
        Target::User(_) => 0,
        Target::Users(_) => 1,
        Target::Broadcast => 2,
        Target::Channel(_) => 3,
        Target::Channels(_) => 4,
    }
}

#[derive(Debug, Default)]
pub struct DeliveryStats {
    sent_by_target: [AtomicU64; 5],
    delivered: AtomicU64,
    queued: AtomicU64,
    slow_consumers: AtomicU64,
    dropped: AtomicU64,
    replayed: AtomicU64,
    queue_dropped: AtomicU64,
    queue_expired: AtomicU64,
    queue_failures: AtomicU64,
    redelivered: AtomicU64,
    acks_tracked: AtomicU64,
    acks_untracked: AtomicU64,
    acks_expired: AtomicU64,
}

/// The delivery core's totals since this node started (a point-in-time copy of its counters).
#[derive(Debug, Clone, Copy, Default, serde::Serialize, utoipa::ToSchema)]
pub struct DeliverySnapshot {
    pub notifications_sent: u64,
    #[serde(skip)]
    #[schema(ignore)]
    pub sent_by_target: [u64; 5],
    pub notifications_delivered: u64,
    pub notifications_queued: u64,
    pub slow_consumers_disconnected: u64,
    /// Frames overwritten in slow clients' queues (`drop_oldest` policy).
    pub notifications_dropped: u64,
    /// Queued notifications handed to a reconnecting user.
    pub notifications_replayed: u64,
    /// Queued notifications dropped because a user's queue overflowed.
    pub queue_dropped: u64,
    /// Queued notifications removed unreplayed because they expired.
    pub queue_expired: u64,
    /// Notifications for offline users that the queue store failed to take.
    pub queue_failures: u64,
    /// Unacknowledged High/Critical notifications sent again (`ACK_REDELIVER`).
    pub notifications_redelivered: u64,
    pub acks_tracked: u64,
    /// Deliveries that could not be tracked for their ACK (the ACK store was unavailable or full).
    pub acks_untracked: u64,
    pub acks_expired: u64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl DeliveryStats {
    pub fn record_sent(&self, target: &Target) {
        add(&self.sent_by_target[target_index(target)], 1);
    }

    pub fn record_delivered(&self, n: u64) {
        add(&self.delivered, n);
    }

    pub fn record_queued(&self, n: u64) {
        add(&self.queued, n);
    }

    pub fn record_slow_consumer(&self) {
        add(&self.slow_consumers, 1);
    }

    pub fn record_dropped(&self, n: u64) {
        add(&self.dropped, n);
    }

    pub fn record_replayed(&self, n: u64) {
        add(&self.replayed, n);
    }

    pub fn record_queue_dropped(&self, n: u64) {
        add(&self.queue_dropped, n);
    }

    pub fn record_queue_expired(&self, n: u64) {
        add(&self.queue_expired, n);
    }

    pub fn record_queue_failure(&self) {
        add(&self.queue_failures, 1);
    }

    pub fn record_redelivered(&self) {
        add(&self.redelivered, 1);
    }

    pub fn record_acks_tracked(&self, n: u64) {
        add(&self.acks_tracked, n);
    }

    pub fn record_acks_untracked(&self, n: u64) {
        add(&self.acks_untracked, n);
    }

    pub fn record_acks_expired(&self, n: u64) {
        add(&self.acks_expired, n);
    }

    pub fn snapshot(&self) -> DeliverySnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let sent_by_target = self.sent_by_target.each_ref().map(load);
        DeliverySnapshot {
            notifications_sent: sent_by_target.iter().sum(),
            sent_by_target,
            notifications_delivered: load(&self.delivered),
            notifications_queued: load(&self.queued),
            slow_consumers_disconnected: load(&self.slow_consumers),
            notifications_dropped: load(&self.dropped),
            notifications_replayed: load(&self.replayed),
            queue_dropped: load(&self.queue_dropped),
            queue_expired: load(&self.queue_expired),
            queue_failures: load(&self.queue_failures),
            notifications_redelivered: load(&self.redelivered),
            acks_tracked: load(&self.acks_tracked),
            acks_untracked: load(&self.acks_untracked),
            acks_expired: load(&self.acks_expired),
        }
    }
}

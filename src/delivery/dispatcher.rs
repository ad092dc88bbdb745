//! Resolves a target to live connections and hands each one the same pre-serialized frame.
//!
//! Guarantees: a notification is serialized once per dispatch; frames for one connection are queued in
//! the order their dispatches ran; a connection whose bounded queue is full is closed as a slow consumer
//! instead of slowing anybody else. Nothing here waits on a socket.

use std::collections::HashSet;
use std::sync::Arc;

use crate::domain::{ConnectionId, Notification, Target, TenantId, UserKey};
use crate::ports::{CloseReason, OutboundFrame, SinkError};

use super::frame::notification_frame;
use super::registry::{ConnectionEntry, ConnectionRegistry};
use super::stats::DeliveryStats;

/// What one dispatch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DispatchReport {
    /// Connections the frame was queued on.
    pub delivered: usize,
    /// Users who were offline.
    pub offline_users: usize,
}

pub struct Dispatcher {
    registry: Arc<ConnectionRegistry>,
    stats: Arc<DeliveryStats>,
}

impl Dispatcher {
    pub fn new(registry: Arc<ConnectionRegistry>, stats: Arc<DeliveryStats>) -> Self {
        Self { registry, stats }
    }

    pub fn registry(&self) -> &Arc<ConnectionRegistry> {
        &self.registry
    }

    pub fn stats(&self) -> &Arc<DeliveryStats> {
        &self.stats
    }

    /// The span of one dispatch, however many recipients it has (a child of the current span). Spans,
    /// like metrics, stay out of the per-recipient walk: a sampled dispatch hands its ids to the
    /// frame instead (see `frame::trace_link`), and each transport opens its write span from those.
    pub fn span(target: &Target) -> tracing::Span {
        tracing::debug_span!(
            "dispatch",
            ara.target_type = target.kind(),
            ara.delivered = tracing::field::Empty,
            ara.offline_users = tracing::field::Empty,
        )
    }

    /// Delivers `notification` to the live connections `target` resolves to within its tenant.
    /// Returns the offline users among direct user targets, for the caller to queue.
    pub fn deliver_local(&self, notification: &Notification, target: &Target) -> (DispatchReport, Vec<UserKey>) {
        self.stats.record_sent(target);
        self.deliver_frame(&notification_frame(notification), &notification.tenant, target)
    }

    /// Like [`Self::deliver_local`] for a frame the caller serialized (once) already.
    pub fn deliver_frame(
        &self,
        frame: &OutboundFrame,
        tenant: &TenantId,
        target: &Target,
    ) -> (DispatchReport, Vec<UserKey>) {
        let mut fanout = Fanout::new(frame);
        let mut offline = Vec::new();
        match target {
            Target::User(user) => {
                let key = UserKey::new(tenant.clone(), user.clone());
                if self.registry.for_each_of_user(&key, |e| fanout.send(e)) == 0 {
                    offline.push(key);
                }
            }
            Target::Users(users) => {
                for user in users {
                    let key = UserKey::new(tenant.clone(), user.clone());
                    if self.registry.for_each_of_user(&key, |e| fanout.send(e)) == 0 {
                        offline.push(key);
                    }
                }
            }
            Target::Broadcast => self.registry.for_each_in_tenant(tenant, |e| fanout.send(e)),
            Target::Channel(channel) => self.registry.for_each_in_channel(tenant, channel, |e| fanout.send(e)),
            Target::Channels(channels) => {
                // A connection on several of the channels still gets one copy.
                let mut seen: HashSet<ConnectionId> = HashSet::new();
                for channel in channels {
                    self.registry.for_each_in_channel(tenant, channel, |e| {
                        if seen.insert(e.id) {
                            fanout.send(e);
                        }
                    });
                }
            }
        }
        let delivered = fanout.finish(&self.stats);
        self.stats.record_delivered(delivered as u64);
        (DispatchReport { delivered, offline_users: offline.len() }, offline)
    }

    /// Queues `frame` on every live connection of one user; returns how many took it.
    pub fn deliver_frame_to_user(&self, frame: &OutboundFrame, user: &UserKey) -> usize {
        let mut fanout = Fanout::new(frame);
        self.registry.for_each_of_user(user, |e| fanout.send(e));
        let delivered = fanout.finish(&self.stats);
        self.stats.record_delivered(delivered as u64);
        delivered
    }
}

/// Queues one frame on many connections; slow consumers are closed after the walk, outside any
/// registry lock.
struct Fanout<'a> {
    frame: &'a OutboundFrame,
    delivered: usize,
    slow: Vec<Arc<dyn crate::ports::ConnectionSink>>,
}

impl<'a> Fanout<'a> {
    fn new(frame: &'a OutboundFrame) -> Self {
        Self { frame, delivered: 0, slow: Vec::new() }
    }

    fn send(&mut self, entry: &ConnectionEntry) {
        match entry.sink.try_send(self.frame.clone()) {
            Ok(()) => self.delivered += 1,
            Err(SinkError::Full) => self.slow.push(entry.sink.clone()),
            Err(SinkError::Closed) => {}
        }
    }

    fn finish(self, stats: &DeliveryStats) -> usize {
        for sink in self.slow {
            stats.record_slow_consumer();
            sink.close(CloseReason::SlowConsumer);
        }
        self.delivered
    }
}

#[cfg(test)]
#[path = "dispatcher_tests.rs"]
mod tests;

//! What the service tells about live connections and its own counters, and the node-wide chores
//! (idle sweep, expiry sweep, shutdown).

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};

use super::NotificationService;
use crate::delivery::{ConnectionEntry, DeliverySnapshot};
use crate::domain::{ChannelName, ConnectionId, TenantId, Transport, UserId, UserKey};
use crate::ports::{CloseReason, QueueError};

/// Live connections on this node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub connections: usize,
    pub websocket: usize,
    pub sse: usize,
    pub users: usize,
    pub channels: usize,
    pub subscriptions: usize,
}

/// A user's live connections and the union of their channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSubscriptions {
    pub connections: usize,
    pub channels: Vec<ChannelName>,
}

/// One live connection, as an operator inspects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionView {
    pub id: ConnectionId,
    pub user: UserId,
    pub transport: Transport,
    pub connected_at: DateTime<Utc>,
    /// Since the client last showed a sign of life (a frame, a pong, an ACK).
    pub idle_ms: i64,
    pub channels: Vec<ChannelName>,
}

impl ConnectionView {
    fn of(entry: &ConnectionEntry, now: DateTime<Utc>) -> Self {
        Self {
            id: entry.id,
            user: entry.identity.user.clone(),
            transport: entry.transport,
            connected_at: entry.connected_at,
            idle_ms: entry.idle_for_ms(now).max(0),
            channels: entry.channels(),
        }
    }
}

impl NotificationService {
    /// The user's live connections on this node.
    pub fn connections_of_user(&self, user: &UserKey, now: DateTime<Utc>) -> Vec<ConnectionView> {
        let mut found = Vec::new();
        self.registry.for_each_of_user(user, |entry| found.push(ConnectionView::of(entry, now)));
        found
    }

    /// The tenant's live connections on this node.
    pub fn connections_in_tenant(&self, tenant: &TenantId, now: DateTime<Utc>) -> Vec<ConnectionView> {
        let mut found = Vec::new();
        self.registry.for_each_in_tenant(tenant, |entry| found.push(ConnectionView::of(entry, now)));
        found
    }

    pub fn counts(&self) -> Counts {
        let (websocket, sse) = self.registry.transport_counts();
        Counts {
            connections: self.registry.connection_count(),
            websocket,
            sse,
            users: self.registry.user_count(),
            channels: self.registry.channel_count(),
            subscriptions: self.registry.subscription_count(),
        }
    }

    pub fn delivery_stats(&self) -> DeliverySnapshot {
        self.stats.snapshot()
    }

    /// The tenant's channels with their subscriber counts, sorted by name.
    pub fn channels(&self, tenant: &TenantId) -> Vec<(ChannelName, usize)> {
        self.registry.channels_of(tenant)
    }

    /// Subscribers of one channel, or `None` when nobody is subscribed.
    pub fn channel_subscribers(&self, tenant: &TenantId, channel: &ChannelName) -> Option<usize> {
        self.registry.channel_subscribers(tenant, channel)
    }

    /// `None` when the user is offline.
    pub fn subscriptions(&self, user: &UserKey) -> Option<UserSubscriptions> {
        let (connections, channels) = self.registry.subscriptions_of(user)?;
        Some(UserSubscriptions { connections, channels })
    }

    pub fn offline_queue(&self) -> Option<&crate::ports::DynOfflineQueue> {
        self.queue.as_ref().map(|q| &q.store)
    }

    pub fn ack_store(&self) -> Option<&crate::ports::DynAckStore> {
        self.acks.as_ref().map(|a| &a.store)
    }

    /// Closes connections silent for longer than their tenant's idle timeout; returns how many. A
    /// backstop for heartbeats that missed it.
    pub fn close_idle(&self, now: DateTime<Utc>) -> usize {
        self.registry.close_idle_by(now, |tenant| self.policies.connection(tenant).idle_timeout)
    }

    /// Refuses new connections from now on and asks every open one to close (1001).
    pub fn begin_shutdown(&self) {
        self.closing.store(true, Ordering::Release);
        self.registry.close_all(CloseReason::Shutdown);
    }

    /// Removes expired queue entries; run periodically.
    pub async fn purge_expired_queue(&self) -> Result<u64, QueueError> {
        match &self.queue {
            Some(queue) => {
                let removed = queue.store.purge_expired(self.clock.now()).await?;
                self.stats.record_queue_expired(removed);
                Ok(removed)
            }
            None => Ok(0),
        }
    }
}
